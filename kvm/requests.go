//go:build linux

package kvm

// Request is one ioctl request number with its KVM name.
type Request struct {
	Name   string
	Number uintptr
}

// RunTimeRequests are the ioctls a running VM issues once it is built:
// entering the guest, reading and repairing vCPU state (emulation repairs,
// crash reports), translating guest addresses, raising interrupts, the
// guest clock. A seccomp filter allows these and no others, so a hijacked
// VMM cannot create vCPUs, map new memory into the guest or wire eventfds.
func RunTimeRequests() []Request {
	return []Request{
		{"KVM_RUN", kvmRun},
		{"KVM_GET_REGS", kvmGetRegs},
		{"KVM_SET_REGS", kvmSetRegs},
		{"KVM_GET_SREGS", kvmGetSregs},
		{"KVM_SET_SREGS", kvmSetSregs},
		{"KVM_TRANSLATE", kvmTranslate},
		{"KVM_GET_MSRS", kvmGetMSRs},
		{"KVM_GET_FPU", kvmGetFPU},
		{"KVM_GET_LAPIC", kvmGetLAPIC},
		{"KVM_GET_MP_STATE", kvmGetMPState},
		{"KVM_GET_VCPU_EVENTS", kvmGetVCPUEvents},
		{"KVM_SET_VCPU_EVENTS", kvmSetVCPUEvents},
		{"KVM_GET_XSAVE", kvmGetXSave},
		{"KVM_GET_XCRS", kvmGetXCRS},
		{"KVM_IRQ_LINE", kvmIRQLine},
		{"KVM_SIGNAL_MSI", kvmSignalMSI},
		{"KVM_GET_CLOCK", kvmGetClock},
	}
}
