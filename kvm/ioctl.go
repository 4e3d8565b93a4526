//go:build linux

package kvm

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// The asm-generic ioctl number encoding: dir<<30 | size<<16 | type<<8 | nr.
const (
	iocNone  = 0
	iocWrite = 1
	iocRead  = 2

	kvmio = 0xAE
)

func ioc(dir, nr, size uintptr) uintptr { return dir<<30 | size<<16 | kvmio<<8 | nr }
func io(nr uintptr) uintptr             { return ioc(iocNone, nr, 0) }
func ior(nr, size uintptr) uintptr      { return ioc(iocRead, nr, size) }
func iow(nr, size uintptr) uintptr      { return ioc(iocWrite, nr, size) }
func iowr(nr, size uintptr) uintptr     { return ioc(iocRead|iocWrite, nr, size) }

// Error is a failed KVM ioctl: which one and the errno, so callers can test
// errors.Is(err, unix.EPERM) and still print something meaningful.
type Error struct {
	Op    string // e.g. "KVM_CREATE_VM"
	Errno unix.Errno
}

func (e *Error) Error() string { return fmt.Sprintf("kvm: %s: %v", e.Op, e.Errno) }
func (e *Error) Unwrap() error { return e.Errno }

// ErrClosed is returned by methods called after Close.
var ErrClosed = errors.New("kvm: file descriptor already closed")

// ignoringEINTR retries fn while it fails with EINTR: every ioctl except
// KVM_RUN is restartable, and Go's preemption signal (SIGURG) interrupts
// blocking system calls.
func ignoringEINTR(fn func() (uintptr, unix.Errno)) (uintptr, unix.Errno) {
	for {
		r, e := fn()
		if e != unix.EINTR {
			return r, e
		}
	}
}

// wrap turns an errno into an *Error naming op, or nil.
func wrap(op string, e unix.Errno) error {
	if e == 0 {
		return nil
	}
	return &Error{Op: op, Errno: e}
}
