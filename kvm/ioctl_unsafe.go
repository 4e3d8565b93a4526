//go:build linux

package kvm

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// Ioctl request numbers, built from the struct sizes the kernel encodes in
// them (cross-checked against the C header's values in the tests).
var (
	kvmGetAPIVersion       = io(0x00)
	kvmCreateVM            = io(0x01)
	kvmGetMSRIndexList     = iowr(0x02, unsafe.Sizeof(uint32(0))) // struct kvm_msr_list header
	kvmCheckExtension      = io(0x03)
	kvmGetVCPUMmapSize     = io(0x04)
	kvmGetSupportedCPUID   = iowr(0x05, 8) // struct kvm_cpuid2 header
	kvmCreateVCPU          = io(0x41)
	kvmSetUserMemoryRegion = iow(0x46, unsafe.Sizeof(UserspaceMemoryRegion{}))
	kvmSetTSSAddr          = io(0x47)
	kvmSetIdentityMapAddr  = iow(0x48, unsafe.Sizeof(uint64(0)))
	kvmCreateIRQChip       = io(0x60)
	kvmIRQLine             = iow(0x61, unsafe.Sizeof(irqLevel{}))
	kvmSetGSIRouting       = iow(0x6a, 8) // struct kvm_irq_routing header
	kvmIRQFD               = iow(0x76, unsafe.Sizeof(IRQFD{}))
	kvmCreatePIT2          = iow(0x77, unsafe.Sizeof(PITConfig{}))
	kvmIOEventFD           = iow(0x79, unsafe.Sizeof(IOEventFD{}))
	kvmSetClock            = iow(0x7b, unsafe.Sizeof(ClockData{}))
	kvmGetClock            = ior(0x7c, unsafe.Sizeof(ClockData{}))
	kvmSignalMSI           = iow(0xa5, unsafe.Sizeof(MSI{}))

	kvmRun           = io(0x80)
	kvmGetRegs       = ior(0x81, unsafe.Sizeof(Regs{}))
	kvmSetRegs       = iow(0x82, unsafe.Sizeof(Regs{}))
	kvmGetSregs      = ior(0x83, unsafe.Sizeof(Sregs{}))
	kvmSetSregs      = iow(0x84, unsafe.Sizeof(Sregs{}))
	kvmTranslate     = iowr(0x85, unsafe.Sizeof(Translation{}))
	kvmGetMSRs       = iowr(0x88, 8) // struct kvm_msrs header
	kvmSetMSRs       = iow(0x89, 8)
	kvmGetFPU        = ior(0x8c, unsafe.Sizeof(FPU{}))
	kvmSetFPU        = iow(0x8d, unsafe.Sizeof(FPU{}))
	kvmGetLAPIC      = ior(0x8e, unsafe.Sizeof(LAPICState{}))
	kvmSetLAPIC      = iow(0x8f, unsafe.Sizeof(LAPICState{}))
	kvmSetCPUID2     = iow(0x90, 8) // struct kvm_cpuid2 header
	kvmGetCPUID2     = iowr(0x91, 8)
	kvmGetMPState    = ior(0x98, unsafe.Sizeof(mpState{}))
	kvmSetMPState    = iow(0x99, unsafe.Sizeof(mpState{}))
	kvmGetVCPUEvents = ior(0x9f, unsafe.Sizeof(VCPUEvents{}))
	kvmSetVCPUEvents = iow(0xa0, unsafe.Sizeof(VCPUEvents{}))
	kvmGetXSave      = ior(0xa4, unsafe.Sizeof(XSave{}))
	kvmSetXSave      = iow(0xa5, unsafe.Sizeof(XSave{}))
	kvmGetXCRS       = ior(0xa6, unsafe.Sizeof(XCRS{}))
	kvmSetXCRS       = iow(0xa7, unsafe.Sizeof(XCRS{}))
)

// ioctlVal issues an ioctl whose argument is a plain integer.
func ioctlVal(fd int, req, arg uintptr) (uintptr, unix.Errno) {
	return ignoringEINTR(func() (uintptr, unix.Errno) {
		r, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), req, arg)
		return r, e
	})
}

// ioctlPtr issues an ioctl whose argument points at p. p must be one of
// this package's ABI structs (or a buffer built for a flexible array), so the
// kernel reads or writes exactly the bytes the request number encodes.
func ioctlPtr[T any](fd int, req uintptr, p *T) (uintptr, unix.Errno) {
	return ignoringEINTR(func() (uintptr, unix.Errno) {
		r, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), req, uintptr(unsafe.Pointer(p)))
		return r, e
	})
}

// runOnce issues KVM_RUN exactly once: EINTR is the caller's business, since
// it is how a stop request (immediate_exit plus a signal) arrives.
//
// It is a raw system call: the Go scheduler is not told, so the vCPU's
// goroutine keeps its P while the guest runs. Through unix.Syscall, each
// exit (about 10 µs on kvm_pvm) let sysmon take the P away and hand it to
// another thread, and the vCPU thread then had to get one back: about 9,000
// context switches a second and 4 µs more per exit (15.2 µs against 11.3 µs
// for a C program doing the same loop, medians of 9 interleaved runs). A
// guest that halts holds the P until a signal ends the call: Go's own
// preemption signal (sysmon sends one after 10 ms), a stop request, or
// garbage collection; VCPU.Run then enters through runBlocking instead
// until the next real exit.
func runOnce(fd int) unix.Errno {
	_, _, e := unix.RawSyscall(unix.SYS_IOCTL, uintptr(fd), kvmRun, 0)
	return e
}

// runBlocking issues KVM_RUN as an ordinary blocking system call, which
// gives the P back to the scheduler: for a guest that has been halted long
// enough to be preempted, so that an idle vCPU costs no signal every 10 ms.
func runBlocking(fd int) unix.Errno {
	_, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), kvmRun, 0)
	return e
}
