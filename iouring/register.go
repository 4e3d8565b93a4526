//go:build linux

package iouring

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// regError wraps an io_uring_register failure with the operation's name and,
// for the common errnos, what to do.
func regError(what string, err error) error {
	hint := ""
	switch {
	case errors.Is(err, unix.ENOMEM):
		hint = ": pinned memory exceeds RLIMIT_MEMLOCK; raise it (ulimit -l) or run with CAP_IPC_LOCK"
	case errors.Is(err, unix.EACCES):
		hint = ": forbidden by the ring's registered restrictions"
	case errors.Is(err, unix.EBUSY):
		hint = ": something of this kind is already registered; unregister it first"
	case errors.Is(err, unix.EFAULT):
		hint = ": an address is not mapped (or is file-backed memory the kernel cannot pin)"
	}
	return fmt.Errorf("iouring: %s: %w%s", what, err, hint)
}

// RegisterFiles installs fds as the ring's fixed-file table; SQEs with
// SQEFixedFile then name a file by its index. -1 leaves a slot empty for a
// later RegisterFilesUpdate.
func (r *Ring) RegisterFiles(fds []int32) error {
	if r.fd < 0 {
		return ErrClosed
	}
	if len(fds) == 0 {
		return errors.New("iouring: register files: empty table; pass at least one fd (or -1)")
	}
	if err := r.registerFiles(fds); err != nil {
		return regError(fmt.Sprintf("register %d files", len(fds)), err)
	}
	return nil
}

// RegisterFilesUpdate replaces fixed-file slots off.. with fds (-1 clears a
// slot) and returns how many slots changed.
func (r *Ring) RegisterFilesUpdate(off uint32, fds []int32) (int, error) {
	if r.fd < 0 {
		return 0, ErrClosed
	}
	if len(fds) == 0 {
		return 0, nil
	}
	n, err := r.registerFilesUpdate(off, fds)
	if err != nil {
		return n, regError(fmt.Sprintf("update files %d..%d", off, int(off)+len(fds)-1), err)
	}
	return n, nil
}

// UnregisterFiles drops the fixed-file table.
func (r *Ring) UnregisterFiles() error {
	if r.fd < 0 {
		return ErrClosed
	}
	if _, err := sysRegisterNoArg(r.fd, UnregisterFiles); err != nil {
		return regError("unregister files", err)
	}
	return nil
}

// RegisterBuffers registers iovecs as fixed buffers (index = position) for
// PrepReadFixed/PrepWriteFixed. The kernel pins the pages for as long as they
// stay registered, so they must not be Go heap memory that may be freed:
// use mmap'd memory.
func (r *Ring) RegisterBuffers(iovecs []unix.Iovec) error {
	if r.fd < 0 {
		return ErrClosed
	}
	if len(iovecs) == 0 {
		return errors.New("iouring: register buffers: no buffers given")
	}
	if err := r.registerBuffers(iovecs); err != nil {
		return regError(fmt.Sprintf("register %d buffers", len(iovecs)), err)
	}
	return nil
}

// RegisterBufferRegions registers fixed buffers given as raw address/length
// pairs, for memory the Go runtime does not own (guest RAM).
func (r *Ring) RegisterBufferRegions(regions []BufferRegion) error {
	if r.fd < 0 {
		return ErrClosed
	}
	if len(regions) == 0 {
		return errors.New("iouring: register buffers: no regions given")
	}
	if err := r.registerRegions(regions); err != nil {
		return regError(fmt.Sprintf("register %d buffer regions", len(regions)), err)
	}
	return nil
}

// UnregisterBuffers drops every fixed buffer.
func (r *Ring) UnregisterBuffers() error {
	if r.fd < 0 {
		return ErrClosed
	}
	if _, err := sysRegisterNoArg(r.fd, UnregisterBuffers); err != nil {
		return regError("unregister buffers", err)
	}
	return nil
}

// RegisterEventfd makes the kernel signal efd whenever it posts a CQE, so a
// poller can wait for completions on an eventfd.
func (r *Ring) RegisterEventfd(efd int) error {
	if r.fd < 0 {
		return ErrClosed
	}
	if err := r.registerEventfd(RegisterEventfd, efd); err != nil {
		return regError("register eventfd", err)
	}
	return nil
}

// RegisterEventfdAsync is RegisterEventfd but only for completions that
// did not finish inline in io_uring_enter.
func (r *Ring) RegisterEventfdAsync(efd int) error {
	if r.fd < 0 {
		return ErrClosed
	}
	if err := r.registerEventfd(RegisterEventfdAsync, efd); err != nil {
		return regError("register eventfd (async)", err)
	}
	return nil
}

// UnregisterEventfd stops signalling the registered eventfd.
func (r *Ring) UnregisterEventfd() error {
	if r.fd < 0 {
		return ErrClosed
	}
	if _, err := sysRegisterNoArg(r.fd, UnregisterEventfd); err != nil {
		return regError("unregister eventfd", err)
	}
	return nil
}

// EnableRings starts a ring created with SetupRDisabled, after its
// restrictions (and files) are registered.
func (r *Ring) EnableRings() error {
	if r.fd < 0 {
		return ErrClosed
	}
	if _, err := sysRegisterNoArg(r.fd, RegisterEnableRings); err != nil {
		return regError("enable rings", err)
	}
	return nil
}

func sysRegisterNoArg(fd int, op uint32) (int, error) {
	return sysRegister(fd, op, nil, 0)
}
