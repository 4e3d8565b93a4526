//go:build linux

package iouring

import (
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// CQE is a completion queue entry, laid out like struct io_uring_cqe.
type CQE struct {
	UserData uint64 // copied from the SQE
	Res      int32  // result: byte count, or -errno
	Flags    uint32 // IORING_CQE_F_* flags
}

// Err returns the request's error (Res < 0 as a unix.Errno), or nil.
func (c *CQE) Err() error {
	if c.Res < 0 {
		return unix.Errno(-c.Res)
	}
	return nil
}

// cqNeedsFlush reports whether completions are held back in the kernel: the
// CQ overflowed (kept on a list thanks to IORING_FEAT_NODROP) or task work
// is pending. An io_uring_enter with GETEVENTS moves them into the ring.
func (r *Ring) cqNeedsFlush() bool {
	return atomic.LoadUint32(r.sq.flags)&(SQCQOverflow|SQTaskrun) != 0
}

// deferTaskrun reports whether the ring was set up with
// IORING_SETUP_DEFER_TASKRUN: completions of async requests then wait as
// task work until the submitter enters the kernel with GETEVENTS.
func (r *Ring) deferTaskrun() bool { return r.params.Flags&SetupDeferTaskrun != 0 }

// flushCQ asks the kernel to post overflowed completions into the CQ.
func (r *Ring) flushCQ() error {
	_, err := r.enter(0, 0, EnterGetEvents)
	return err
}

// CQReady returns how many completions are ready to reap.
func (r *Ring) CQReady() uint32 {
	if r.fd < 0 {
		return 0
	}
	return atomic.LoadUint32(r.cq.tail) - atomic.LoadUint32(r.cq.head)
}

// peekCQE returns the completion at the head, or nil.
func (r *Ring) peekCQE() *CQE {
	head := atomic.LoadUint32(r.cq.head)
	if head == atomic.LoadUint32(r.cq.tail) { // acquire: CQE at head is complete
		return nil
	}
	return &r.cq.cqes[head&r.cq.mask]
}

// PeekCQE returns the next completion without waiting, or nil when none is
// ready. The CQE points into the ring: read it, then call CQESeen.
// Overflowed completions are flushed into the ring first when the CQ is
// empty, so none is ever stranded.
func (r *Ring) PeekCQE() (*CQE, error) {
	if r.fd < 0 {
		return nil, ErrClosed
	}
	if c := r.peekCQE(); c != nil {
		return c, nil
	}
	if !r.cqNeedsFlush() {
		return nil, nil
	}
	if err := r.flushCQ(); err != nil {
		return nil, err
	}
	return r.peekCQE(), nil
}

// WaitCQE blocks until a completion is ready and returns it (see PeekCQE).
// It does not submit; call Submit first.
func (r *Ring) WaitCQE() (*CQE, error) {
	for {
		c, err := r.PeekCQE()
		if c != nil || err != nil {
			return c, err
		}
		if _, err := r.enter(0, 1, EnterGetEvents); err != nil {
			return nil, err
		}
	}
}

// PeekBatchCQE copies up to len(cqes) ready completions into cqes, marks
// them seen, and returns how many it copied. Unlike liburing's function of
// the same name it consumes them, so nothing points into the ring afterwards.
func (r *Ring) PeekBatchCQE(cqes []CQE) int {
	if r.fd < 0 || len(cqes) == 0 {
		return 0
	}
	cq := &r.cq
	head := atomic.LoadUint32(cq.head)
	ready := atomic.LoadUint32(cq.tail) - head
	if ready == 0 && r.cqNeedsFlush() {
		if r.flushCQ() != nil {
			return 0 // the next WaitCQE reports the error
		}
		ready = atomic.LoadUint32(cq.tail) - head
	}
	n := min(ready, uint32(len(cqes)))
	for i := uint32(0); i < n; i++ {
		cqes[i] = cq.cqes[(head+i)&cq.mask]
	}
	atomic.StoreUint32(cq.head, head+n) // release: slots are free again
	return int(n)
}

// CQESeen marks one completion (the one PeekCQE or WaitCQE returned) as
// consumed; c may be nil.
func (r *Ring) CQESeen(c *CQE) { r.CQAdvance(1) }

// CQAdvance marks n completions as consumed.
func (r *Ring) CQAdvance(n uint32) {
	if r.fd < 0 || n == 0 {
		return
	}
	// Release: our reads of these CQEs finish before the kernel may reuse
	// the slots.
	atomic.StoreUint32(r.cq.head, atomic.LoadUint32(r.cq.head)+n)
}

// Overflow returns how many completions the kernel had to drop
// (cq_ring.overflow). With IORING_FEAT_NODROP it stays 0 unless the kernel
// ran out of memory.
func (r *Ring) Overflow() uint32 {
	if r.fd < 0 {
		return 0
	}
	return atomic.LoadUint32(r.cq.overflow)
}
