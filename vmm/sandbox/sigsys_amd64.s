#include "textflag.h"

// Keep in step with sigsys_unsafe.go.
#define msgSlots 512
#define msgSize 192

// sigsysHandler is the SIGSYS handler for a call the seccomp filter
// refused (SECCOMP_RET_TRAP). It runs on the signal stack with no Go
// runtime state, so it only reads the syscall number from the siginfo
// (DI = signal, SI = siginfo, DX = ucontext), puts a raw terminal back,
// writes the prepared message for that number to stderr and exits the
// process with status 1. It never
// returns: the refused call must not appear to have succeeded.
TEXT ·sigsysHandler(SB),NOSPLIT|NOFRAME,$0
	MOVL	24(SI), BX // siginfo._sigsys._syscall
	// First the terminal, if vmm made one raw (RestoreTerminalOnBlock):
	// ioctl(fd, TCSETS, &saved). BX survives SYSCALL (only AX, CX, R11 change).
	MOVQ	·sigsysTermFd(SB), DI
	CMPQ	DI, $0
	JLT	message
	MOVQ	$0x5402, SI // TCSETS
	LEAQ	·sigsysTermios(SB), DX
	MOVQ	$16, AX // SYS_ioctl
	SYSCALL
message:
	CMPQ	BX, $(msgSlots-1)
	JCS	known
	MOVQ	$(msgSlots-1), BX // the "unknown" slot
known:
	LEAQ	·sigsysLen(SB), AX
	MOVQ	(AX)(BX*8), DX // length
	MOVQ	BX, AX
	IMULQ	$msgSize, AX
	LEAQ	·sigsysMsg(SB), SI
	ADDQ	AX, SI // message
	MOVQ	$2, DI // stderr
	MOVQ	$1, AX // SYS_write
	SYSCALL
	MOVQ	$1, DI // status 1
	MOVQ	$231, AX // SYS_exit_group
	SYSCALL
	INT	$3

// func sigsysHandlerPC() uintptr
TEXT ·sigsysHandlerPC(SB),NOSPLIT,$0-8
	MOVQ	$·sigsysHandler(SB), AX
	MOVQ	AX, ret+0(FP)
	RET
