//go:build linux

package iouring

import (
	"fmt"
	"sync/atomic"
)

// GetSQE returns the next free submission entry, zeroed, or nil when the SQ
// is full (submit, then try again) or the ring is closed. The entry belongs
// to the caller until the next Submit.
func (r *Ring) GetSQE() *SQE {
	if r.fd < 0 {
		return nil
	}
	sq := &r.sq
	head := atomic.LoadUint32(sq.head) // acquire: the kernel is done with slots before head
	if sq.sqeTail-head >= sq.entries {
		return nil
	}
	s := &sq.sqes[sq.sqeTail&sq.mask]
	sq.sqeTail++
	*s = SQE{}
	return s
}

// SQReady returns how many entries have been taken with GetSQE but not yet
// consumed by the kernel.
func (r *Ring) SQReady() uint32 {
	if r.fd < 0 {
		return 0
	}
	return r.sq.sqeTail - atomic.LoadUint32(r.sq.head)
}

// SQSpaceLeft returns how many more entries GetSQE can hand out right now.
func (r *Ring) SQSpaceLeft() uint32 {
	if r.fd < 0 {
		return 0
	}
	return r.sq.entries - r.SQReady()
}

// flushSQ publishes the entries handed out by GetSQE and returns how many
// the kernel has yet to consume.
func (r *Ring) flushSQ() uint32 {
	sq := &r.sq
	if sq.sqeHead != sq.sqeTail {
		sq.sqeHead = sq.sqeTail
		// Release: the SQE contents written above become visible to the
		// kernel no later than the new tail.
		atomic.StoreUint32(sq.tail, sq.sqeTail)
	}
	return sq.sqeTail - atomic.LoadUint32(sq.head)
}

// Submit hands every prepared entry to the kernel and returns how many it
// consumed. It does not wait for completions.
//
// When an SQE fails at submission (a restricted opcode, a bad fixed-file
// index) the kernel posts its CQE and stops consuming that batch; Submit
// then calls io_uring_enter again for the rest, so every prepared entry is
// consumed unless the kernel makes no progress at all.
//
// On a ring set up with SetupDeferTaskrun, Submit also asks the kernel
// (GETEVENTS, waiting for nothing) to post the completions it has deferred:
// there they appear only inside io_uring_enter, so without this a loop that
// submits and then peeks would see none until it waits. fio does the same.
func (r *Ring) Submit() (int, error) { return r.submit(0) }

// SubmitAndWait submits like Submit and then blocks until at least n
// completions are ready to reap (n == 0 behaves like Submit).
func (r *Ring) SubmitAndWait(n uint32) (int, error) { return r.submit(n) }

func (r *Ring) submit(waitNr uint32) (int, error) {
	if r.fd < 0 {
		return 0, ErrClosed
	}
	submitted := 0
	for {
		toSubmit := r.flushSQ()
		var flags uint32
		if waitNr > 0 || r.cqNeedsFlush() || (toSubmit > 0 && r.deferTaskrun()) {
			flags = EnterGetEvents
		}
		if toSubmit == 0 && (waitNr == 0 || r.CQReady() >= waitNr) {
			if flags != 0 && waitNr == 0 {
				// Move overflowed completions into the ring.
				if err := r.flushCQ(); err != nil {
					return submitted, err
				}
			}
			return submitted, nil
		}
		// A retried EINTR resubmits nothing twice: EINTR means this call
		// consumed no SQE, and flushSQ's count is still right. When the
		// kernel consumed SQEs it returns that count even if the wait was
		// cut short, so the loop goes round until the wait is satisfied.
		n, err := r.enter(toSubmit, waitNr, flags)
		if err != nil {
			return submitted, err
		}
		submitted += n
		if toSubmit > 0 && n == 0 {
			return submitted, fmt.Errorf("iouring: io_uring_enter consumed none of %d SQEs", toSubmit)
		}
	}
}
