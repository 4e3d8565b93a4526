//go:build linux

package zerocopy

// A Handle and a buffer's state word share one layout: a 40-bit generation
// above a 24-bit field that is the buffer index in a Handle and the
// reference count in a state word. Generations start at 1 and skip 0 on
// wrap-around, so the zero Handle never matches a buffer. 2^40 recycles of
// one buffer are needed before an old handle's generation comes around
// again (about 30 hours of nonstop reuse at 10M releases/s of that single
// buffer), which is the bound on stale-handle detection.
const (
	indexBits = 24
	lowMask   = 1<<indexBits - 1
	genBits   = 64 - indexBits
	genMask   = 1<<genBits - 1

	// MaxRefs is the most references one buffer can hold at once.
	MaxRefs = lowMask
)

// Handle names one generation of one buffer. It is a small value: copy it
// freely, compare it with ==; the zero Handle is never valid.
type Handle struct{ v uint64 }

func makeHandle(index uint32, gen uint64) Handle {
	return Handle{gen<<indexBits | uint64(index)}
}

// Index is the buffer's position in the arena, and its io_uring fixed-buffer
// index when Iovecs were registered in order. It does not check validity.
func (h Handle) Index() int { return int(h.v & lowMask) }

// Generation is the buffer generation this handle belongs to.
func (h Handle) Generation() uint64 { return h.v >> indexBits }

// IsZero reports whether h is the zero Handle (never returned by Acquire).
func (h Handle) IsZero() bool { return h.v == 0 }

func genOf(state uint64) uint64 { return state >> indexBits }
func refOf(state uint64) uint64 { return state & lowMask }

func packState(gen, refs uint64) uint64 { return gen<<indexBits | refs }

// nextGen skips 0 so a wrapped generation never equals the zero Handle's.
func nextGen(g uint64) uint64 {
	g = (g + 1) & genMask
	if g == 0 {
		g = 1
	}
	return g
}

// prevGen is nextGen's inverse.
func prevGen(g uint64) uint64 {
	if g <= 1 {
		return genMask
	}
	return g - 1
}
