package sandbox

// Access is what the sandboxed VMM may still do with a path.
type Access uint8

const (
	AccessRead Access = 1 << iota
	AccessWrite
	AccessRemove /* may unlink this path (API socket at exit) */
)

// Path is a file the VMM keeps reaching after the sandbox is on, with the
// access it needs.
type Path struct {
	Path   string
	Access Access
}
