//go:build linux

package zerocopy

import (
	"fmt"
	"unsafe"
)

// Raw addresses for the kernel (io_uring SQE addr fields, fixed-buffer
// registration). They are valid until Close: the arena is an anonymous mmap
// the Go GC neither moves nor frees.

// Addr is the address of h's buffer, checked like Bytes. No lock is needed:
// a live handle holds a reference, and Close refuses to unmap the arena
// while any buffer is referenced.
func (p *Pool) Addr(h Handle) (uintptr, error) {
	i, err := p.live(h)
	if err != nil {
		return 0, err
	}
	return uintptr(unsafe.Pointer(&p.arena[i*p.size])), nil
}

// ArenaBase is the arena's start address (0 after Close): one region of
// ArenaLen bytes covering every buffer.
//
// It holds the pool's lock, as Close does, so the check and the address
// cannot straddle a concurrent Close that unmaps the arena.
func (p *Pool) ArenaBase() uintptr {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed.Load() {
		return 0
	}
	return uintptr(unsafe.Pointer(&p.arena[0]))
}

// BufferAddr is the address of buffer i, whether or not it is in use: what a
// caller needs to register buffers one by one.
//
// Like ArenaBase it holds the pool's lock against a concurrent Close.
func (p *Pool) BufferAddr(i int) (uintptr, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed.Load() {
		return 0, ErrClosed
	}
	if i < 0 || i >= p.count {
		return 0, fmt.Errorf("zerocopy: buffer index %d out of range [0, %d)", i, p.count)
	}
	return uintptr(unsafe.Pointer(&p.arena[i*p.size])), nil
}
