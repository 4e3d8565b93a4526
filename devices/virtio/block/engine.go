package block

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// Engine names accepted by NewBackend.
const (
	EngineUring = "uring"
	EngineSync  = "sync"
	EngineAuto  = "" // io_uring, or sync where io_uring cannot be set up
)

// NewBackend creates the backend engine names for one queue, and says in
// why which one it chose and for what reason (for the device's log line).
//
// EngineAuto tries io_uring and falls back to the sync backend only when
// io_uring_setup fails with ENOSYS (a kernel without io_uring), EPERM
// (kernel.io_uring_disabled, or a seccomp filter) or EACCES (an LSM);
// any other failure is returned, since the sync backend would hide a real
// problem with the disk or the options.
func NewBackend(engine string, file *os.File, kickFD int, opts Options) (b Backend, why string, err error) {
	switch engine {
	case EngineUring:
		u, err := NewUring(file, kickFD, opts)
		if err != nil {
			return nil, "", err
		}
		return u, "io_uring (asked for)", nil
	case EngineSync:
		s, err := NewSync(file, kickFD, opts)
		if err != nil {
			return nil, "", err
		}
		return s, "sync (asked for)", nil
	case EngineAuto:
		u, uerr := NewUring(file, kickFD, opts)
		if uerr == nil {
			return u, "io_uring", nil
		}
		if !uringUnavailable(uerr) {
			return nil, "", uerr
		}
		s, err := NewSync(file, kickFD, opts)
		if err != nil {
			return nil, "", err
		}
		return s, "sync, because io_uring is unavailable: " + errors.Unwrap(uerr).Error(), nil
	}
	return nil, "", fmt.Errorf("block backend: unknown engine %q: want %q, %q, or empty for io_uring with a fallback to sync", engine, EngineUring, EngineSync)
}

// uringUnavailable reports whether err is io_uring_setup refusing in a way
// that means "not on this host".
func uringUnavailable(err error) bool {
	return isSetupError(err) &&
		(errors.Is(err, unix.ENOSYS) || errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES))
}
