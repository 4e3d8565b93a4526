//go:build !(linux && amd64)

package sandbox

import (
	"errors"

	"golang.org/x/sys/unix"
)

// catchSIGSYS has an implementation for linux/amd64 only (its handler is
// assembly); elsewhere --seccomp=kill is refused rather than crash with a
// runtime trace on the first refused call.
func catchSIGSYS() error {
	return errors.New("--seccomp=kill needs linux/amd64: use --seccomp=log or off")
}

// RestoreTerminalOnBlock does nothing here: kill mode is refused.
func RestoreTerminalOnBlock(fd int, saved *unix.Termios) {}
