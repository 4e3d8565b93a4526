//go:build linux

package zerocopy

// Error is the type of this package's sentinel errors. Being a constant
// string type, the sentinels cannot be reassigned, returning one never
// allocates (the hot paths stay at 0 allocs/op), and errors.Is matches them.
type Error string

func (e Error) Error() string { return string(e) }

const (
	// ErrExhausted: Acquire found no free buffer. The pool never blocks; the
	// caller retries after a completion or sizes Config.Count for its queue depth.
	ErrExhausted Error = "zerocopy: pool exhausted: every buffer is in use; retry after a Release, or raise Config.Count to the queue depth"

	// ErrStaleHandle: the handle names a buffer generation that has ended
	// (use, retain or release after the last Release), or one this pool never
	// issued.
	ErrStaleHandle Error = "zerocopy: stale handle: its buffer was already returned to the pool; a handle must not be used after its last Release"

	// ErrDoubleRelease: Release of a handle whose buffer was released to
	// zero in the generation right before the current one: one Release too
	// many for the Acquire/Retain calls made on it.
	ErrDoubleRelease Error = "zerocopy: double release: the buffer already went back to the pool; call Release exactly once per Acquire or Retain"

	// ErrInvalidHandle: the zero Handle, or an index outside this pool.
	ErrInvalidHandle Error = "zerocopy: invalid handle: zero value or index out of range; use only handles returned by this pool's Acquire"

	// ErrRefOverflow: Retain would exceed MaxRefs references on one buffer,
	// which only a leak of Retain calls can reach.
	ErrRefOverflow Error = "zerocopy: reference count overflow on one buffer; some Retain has no matching Release"

	// ErrClosed: the pool was closed; its arena is unmapped.
	ErrClosed Error = "zerocopy: pool is closed"

	// ErrBusy: Close refused because buffers are still referenced. Unmapping
	// memory the kernel may still be reading or writing (in-flight I/O) could
	// corrupt whatever gets mapped there next, so Close waits for the caller.
	ErrBusy Error = "zerocopy: cannot close: buffers are still referenced; wait for in-flight I/O and Release them first"

	// ErrInvalidConfig wraps every Config validation failure.
	ErrInvalidConfig Error = "zerocopy: invalid config"

	// ErrNoDirectIO: statx says the file does not support O_DIRECT at all.
	ErrNoDirectIO Error = "zerocopy: file does not support direct I/O (statx reports DIO alignment 0); open it without O_DIRECT"
)
