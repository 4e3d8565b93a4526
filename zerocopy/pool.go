//go:build linux

package zerocopy

import (
	"fmt"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// Pool is a fixed set of equally sized, aligned buffers in one anonymous
// mmap arena. All methods are safe for concurrent use. Acquire, Retain,
// Release, Bytes and Addr are lock-free and do not allocate.
type Pool struct {
	arena []byte // mmap'd, never resliced or reassigned after New
	size  int
	align int
	count int

	// states[i] is buffer i's generation and reference count in one word
	// (see handle.go), so every check-and-update is a single CAS: a Retain
	// can never bump the count of a buffer that a concurrent Release has
	// already recycled, because that Release changed the generation in the
	// same word.
	states []atomic.Uint64
	free   freeList

	closed atomic.Bool
	mu     sync.Mutex // serialises Close; guards nothing on the hot path

	misuse counters
}

// counters tracks rejected operations. Only error paths touch them, so the
// successful hot path shares no written cache line besides the free list.
type counters struct {
	exhausted, stale, doubleRelease, invalid, refOverflow, closed atomic.Uint64
}

// Stats is a snapshot of a pool's shape, occupancy and rejected operations.
type Stats struct {
	Count, Size, Align int
	// InUse is the number of buffers with a nonzero reference count.
	InUse int
	// Each counter is the number of operations rejected with that error.
	Exhausted     uint64 // ErrExhausted
	StaleHandle   uint64 // ErrStaleHandle
	DoubleRelease uint64 // ErrDoubleRelease
	InvalidHandle uint64 // ErrInvalidHandle
	RefOverflow   uint64 // ErrRefOverflow
	Closed        uint64 // ErrClosed
}

// New maps the arena (MAP_POPULATE, so the I/O path takes no page faults)
// and puts every buffer on the free list.
func New(cfg Config) (*Pool, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	arena, err := unix.Mmap(-1, 0, cfg.Count*cfg.Size, unix.PROT_READ|unix.PROT_WRITE,
		unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_POPULATE)
	if err != nil {
		return nil, fmt.Errorf("zerocopy: mmap %d bytes for %d buffers of %d: %w (lower Count or Size, or check RLIMIT_AS / memory)", cfg.Count*cfg.Size, cfg.Count, cfg.Size, err)
	}
	p := &Pool{arena: arena, size: cfg.Size, align: cfg.Align, count: cfg.Count}
	p.states = make([]atomic.Uint64, cfg.Count)
	for i := range p.states {
		p.states[i].Store(packState(1, 0))
	}
	p.free.init(cfg.Count)
	return p, nil
}

// Count is the number of buffers.
func (p *Pool) Count() int { return p.count }

// Size is the length of each buffer.
func (p *Pool) Size() int { return p.size }

// Align is the guaranteed address alignment of each buffer.
func (p *Pool) Align() int { return p.align }

// Acquire takes a free buffer with a reference count of one. It never
// blocks: with none free it returns ErrExhausted.
func (p *Pool) Acquire() (Handle, error) {
	if p.closed.Load() {
		p.misuse.closed.Add(1)
		return Handle{}, ErrClosed
	}
	i, ok := p.free.pop()
	if !ok {
		if p.closed.Load() {
			p.misuse.closed.Add(1)
			return Handle{}, ErrClosed
		}
		p.misuse.exhausted.Add(1)
		return Handle{}, ErrExhausted
	}
	// The pop made us the only owner of a buffer whose count is 0, and no
	// other operation changes a zero-count state, so this CAS cannot lose.
	s := p.states[i].Load()
	if refOf(s) != 0 || !p.states[i].CompareAndSwap(s, s+1) {
		return Handle{}, fmt.Errorf("zerocopy: internal error: buffer %d was on the free list with state %#x", i, s)
	}
	return makeHandle(i, genOf(s)), nil
}

// Retain adds a reference to h's buffer, for a second request that shares
// it. Each Retain needs its own Release.
func (p *Pool) Retain(h Handle) error {
	i, err := p.index(h)
	if err != nil {
		return err
	}
	st := &p.states[i]
	for {
		s := st.Load()
		if genOf(s) != h.Generation() || refOf(s) == 0 {
			p.misuse.stale.Add(1)
			return ErrStaleHandle
		}
		if refOf(s) == MaxRefs {
			p.misuse.refOverflow.Add(1)
			return ErrRefOverflow
		}
		if st.CompareAndSwap(s, s+1) {
			return nil
		}
	}
}

// Release drops one reference. The last one bumps the buffer's generation,
// making every copy of h stale, and only then puts the buffer back on the
// free list, so Acquire cannot return it while anyone still holds it.
func (p *Pool) Release(h Handle) error {
	i, err := p.index(h)
	if err != nil {
		return err
	}
	st := &p.states[i]
	for {
		s := st.Load()
		g, r := genOf(s), refOf(s)
		if g != h.Generation() || r == 0 {
			if g == nextGen(h.Generation()) {
				p.misuse.doubleRelease.Add(1)
				return ErrDoubleRelease
			}
			p.misuse.stale.Add(1)
			return ErrStaleHandle
		}
		if r > 1 {
			if st.CompareAndSwap(s, s-1) {
				return nil
			}
			continue
		}
		if st.CompareAndSwap(s, packState(nextGen(g), 0)) {
			p.free.push(uint32(i))
			return nil
		}
	}
}

// Bytes is h's buffer as a slice of exactly Size bytes (capacity capped, so
// append cannot reach the next buffer). The check is made at the call: the
// slice must not be used after the caller's last Release.
func (p *Pool) Bytes(h Handle) ([]byte, error) {
	i, err := p.live(h)
	if err != nil {
		return nil, err
	}
	off := i * p.size
	return p.arena[off : off+p.size : off+p.size], nil
}

// index checks what can be checked without the state word.
func (p *Pool) index(h Handle) (int, error) {
	if p.closed.Load() {
		p.misuse.closed.Add(1)
		return 0, ErrClosed
	}
	i := h.Index()
	if h.Generation() == 0 || i >= p.count {
		p.misuse.invalid.Add(1)
		return 0, ErrInvalidHandle
	}
	return i, nil
}

// live returns h's index if h is the current generation and referenced.
func (p *Pool) live(h Handle) (int, error) {
	i, err := p.index(h)
	if err != nil {
		return 0, err
	}
	s := p.states[i].Load()
	if genOf(s) != h.Generation() || refOf(s) == 0 {
		p.misuse.stale.Add(1)
		return 0, ErrStaleHandle
	}
	return i, nil
}

// Refs is the current reference count of h's buffer, or an error if h is
// not live. For tests and diagnostics; the answer may be old on return.
func (p *Pool) Refs(h Handle) (int, error) {
	i, err := p.live(h)
	if err != nil {
		return 0, err
	}
	return int(refOf(p.states[i].Load())), nil
}

// Stats scans the buffers (O(Count), not for the hot path).
func (p *Pool) Stats() Stats {
	st := Stats{
		Count: p.count, Size: p.size, Align: p.align,
		Exhausted:     p.misuse.exhausted.Load(),
		StaleHandle:   p.misuse.stale.Load(),
		DoubleRelease: p.misuse.doubleRelease.Load(),
		InvalidHandle: p.misuse.invalid.Load(),
		RefOverflow:   p.misuse.refOverflow.Load(),
		Closed:        p.misuse.closed.Load(),
	}
	for i := range p.states {
		if refOf(p.states[i].Load()) != 0 {
			st.InUse++
		}
	}
	return st
}

// Close unmaps the arena once every buffer is free; afterwards every
// operation returns ErrClosed. While any buffer is referenced it returns
// ErrBusy and leaves the pool open: the kernel may still be doing I/O into
// that memory, and unmapping it could let the I/O land in a later mapping.
//
// Close takes every index off the free list. Getting all Count of them
// proves nobody holds a buffer, and leaves Acquire nothing to pop; getting
// fewer means buffers are held, so the taken ones go back (a concurrent
// Acquire may see ErrExhausted meanwhile).
func (p *Pool) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed.Load() {
		return ErrClosed
	}
	taken := make([]uint32, 0, p.count)
	for {
		i, ok := p.free.pop()
		if !ok {
			break
		}
		if len(taken) == p.count {
			// More entries than buffers: an index is on the list twice.
			// Refuse rather than loop on a corrupted (cyclic) list.
			return fmt.Errorf("zerocopy: internal error: free list holds more than %d entries; not unmapping", p.count)
		}
		taken = append(taken, i)
	}
	if len(taken) < p.count {
		for _, i := range taken {
			p.free.push(i)
		}
		return fmt.Errorf("%w (%d of %d held)", ErrBusy, p.count-len(taken), p.count)
	}
	p.closed.Store(true)
	if err := unix.Munmap(p.arena); err != nil {
		return fmt.Errorf("zerocopy: munmap arena: %w", err)
	}
	return nil
}
