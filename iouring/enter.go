//go:build linux

package iouring

import (
	"errors"
	"fmt"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// ignoringEINTR calls fn until it returns something other than EINTR.
//
// Go preempts goroutines with SIGURG, and any other signal may land on the
// thread too, so a blocking io_uring_enter returns EINTR routinely. Retrying
// is always correct: the kernel returns EINTR only when it submitted nothing
// in that call (otherwise it returns the count), and the caller recomputes
// what is left to submit from the ring itself.
func ignoringEINTR(fn func() (int, error)) (int, error) {
	for {
		n, err := fn()
		if err != unix.EINTR {
			return n, err
		}
		eintrRetries.Add(1)
	}
}

// eintrRetries counts EINTR retries process-wide; tests read it to prove the
// retry path ran.
var eintrRetries atomic.Uint64

// sysEnter is io_uring_enter(2) without a signal mask or extended argument.
func sysEnter(fd int, toSubmit, minComplete, flags uint32) (int, error) {
	n, _, errno := unix.Syscall6(unix.SYS_IO_URING_ENTER, uintptr(fd), uintptr(toSubmit), uintptr(minComplete), uintptr(flags), 0, 0)
	if errno != 0 {
		return int(n), errno
	}
	return int(n), nil
}

// enter runs io_uring_enter, retrying EINTR, and turns errors into ones that
// say what to do about them.
func (r *Ring) enter(toSubmit, minComplete, flags uint32) (int, error) {
	n, err := ignoringEINTR(func() (int, error) {
		return sysEnter(r.fd, toSubmit, minComplete, flags)
	})
	if err == nil {
		return n, nil
	}
	hint := ""
	switch {
	case errors.Is(err, unix.EBUSY):
		hint = ": the completion queue overflowed; reap completions (PeekBatchCQE, CQAdvance) and submit again"
	case errors.Is(err, unix.EAGAIN):
		hint = ": the kernel is short of resources for new requests; reap completions and submit again"
	case errors.Is(err, unix.EBADR):
		hint = ": the kernel dropped completions (out of memory while the CQ overflowed)"
	case errors.Is(err, unix.EBADFD):
		hint = ": the ring was created with SetupRDisabled; call EnableRings first"
	}
	return n, fmt.Errorf("iouring: io_uring_enter(submit=%d, wait=%d, flags=%#x): %w%s", toSubmit, minComplete, flags, err, hint)
}
