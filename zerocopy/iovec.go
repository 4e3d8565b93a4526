//go:build linux

package zerocopy

import "golang.org/x/sys/unix"

// ArenaLen is the arena's length in bytes (Count*Size; 0 after Close).
func (p *Pool) ArenaLen() int {
	if p.closed.Load() {
		return 0
	}
	return len(p.arena)
}

// Iovecs returns a fresh array with one iovec per buffer, in index order:
// registered as io_uring fixed buffers in this order, a Handle's Index is
// its fixed-buffer index (buf_index for READ_FIXED/WRITE_FIXED). The kernel
// caps registration at 16384 buffers of at most 1 GiB each. Nil after Close.
func (p *Pool) Iovecs() []unix.Iovec {
	if p.closed.Load() {
		return nil
	}
	iov := make([]unix.Iovec, p.count)
	for i := range iov {
		iov[i].Base = &p.arena[i*p.size]
		iov[i].SetLen(p.size)
	}
	return iov
}
