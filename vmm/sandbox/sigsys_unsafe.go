//go:build linux && amd64

package sandbox

import (
	"unsafe"

	"github.com/elastic/go-seccomp-bpf/arch"
	"golang.org/x/sys/unix"
)

// The SIGSYS handler's messages, one slot per system call number (the
// last for numbers past the table), prepared before the filter goes in:
// the handler cannot format anything. Sizes match sigsys_amd64.s.
const (
	msgSlots = 512
	msgSize  = 192
)

var (
	sigsysMsg [msgSlots][msgSize]byte
	sigsysLen [msgSlots]uint64

	// The terminal the handler restores: fd -1 for none.
	sigsysTermFd  int64 = -1
	sigsysTermios unix.Termios
)

// RestoreTerminalOnBlock has the SIGSYS handler put terminal fd back to
// saved before it ends vmm, as vmm's own exit paths do: a refused call
// must not leave the user's terminal raw. Call it before Install.
func RestoreTerminalOnBlock(fd int, saved *unix.Termios) {
	sigsysTermios = *saved
	sigsysTermFd = int64(fd)
}

// Implemented in sigsys_amd64.s.
func sigsysHandler()
func sigsysHandlerPC() uintptr

// sigaction is the kernel's struct sigaction on x86-64 (rt_sigaction).
type sigaction struct {
	handler  uintptr
	flags    uint64
	restorer uintptr
	mask     uint64
}

const (
	saSiginfo  = 0x4
	saOnstack  = 0x08000000
	saRestorer = 0x04000000
)

// catchSIGSYS replaces the Go runtime's SIGSYS handler, which for a
// seccomp trap would print a runtime crash with every goroutine's stack
// (signal.Notify does not receive a SIGSYS the kernel raised), with one
// that prints which call was refused and exits 1.
func catchSIGSYS() error {
	for nr := 0; nr < msgSlots; nr++ {
		name, ok := arch.X86_64.SyscallNumbers[nr]
		if !ok || nr == msgSlots-1 {
			name = "unknown"
		}
		n := copy(sigsysMsg[nr][:], blockedMessage(nr, name))
		sigsysLen[nr] = uint64(n)
	}
	pc := sigsysHandlerPC()
	// Every signal blocked while it runs; on the thread's signal stack,
	// which the Go runtime sets up on every thread. The restorer is never
	// used (the handler does not return) but x86-64 requires one.
	act := sigaction{handler: pc, flags: saSiginfo | saOnstack | saRestorer, restorer: pc, mask: ^uint64(0)}
	_, _, e := unix.RawSyscall6(unix.SYS_RT_SIGACTION, uintptr(unix.SIGSYS), uintptr(unsafe.Pointer(&act)), 0, 8, 0, 0)
	if e != 0 {
		return e
	}
	return nil
}
