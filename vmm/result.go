package vmm

import (
	"errors"

	"vmm/kvm"
)

// Result is how a VM ended: the process exit status, why, and for
// failures the error.
type Result struct {
	Status int
	Err    error
	// Reason says how the VM ended; Stop fills it in from Err when the
	// caller left it empty.
	Reason Reason
	// TestExitValue is what the guest wrote to the test-exit port
	// (Reason ReasonTestExit).
	TestExitValue uint32
	// Signal names the signal that stopped the VM (Reason ReasonSignal).
	Signal string
}

// Reason is why a VM stopped. The values are part of vmm run's
// --result-json output (docs/api.md).
type Reason string

const (
	// ReasonReset: the guest reset the machine (i8042 command 0xFE,
	// KVM_SYSTEM_EVENT_RESET). Linux's `reboot` and panic=-1 end here.
	ReasonReset Reason = "reset"
	// ReasonPowerOff: the guest powered the machine off
	// (KVM_SYSTEM_EVENT_SHUTDOWN, or HLT without an in-kernel LAPIC).
	ReasonPowerOff Reason = "poweroff"
	// ReasonTestExit: the guest wrote its verdict to the test-exit port.
	ReasonTestExit Reason = "test-exit"
	// ReasonCrash: a vCPU stopped in a way the VMM cannot continue from
	// (triple fault, emulation failure, failed entry); Err is a *GuestCrash.
	ReasonCrash Reason = "crash"
	// ReasonSignal: the VMM was told to stop by a signal.
	ReasonSignal Reason = "signal"
	// ReasonTimeout: the run took longer than its time limit.
	ReasonTimeout Reason = "timeout"
	// ReasonQuit: the user quit from the console (Ctrl-A x).
	ReasonQuit Reason = "quit"
	// ReasonError: the VMM failed (a device, the console, a vCPU ioctl).
	ReasonError Reason = "error"
)

// withReason fills in Reason from Err when the caller did not set it.
func (r Result) withReason() Result {
	if r.Reason != "" {
		return r
	}
	var crash *GuestCrash
	switch {
	case errors.As(r.Err, &crash):
		r.Reason = ReasonCrash
	case r.Err != nil:
		r.Reason = ReasonError
	}
	return r
}

// exitRequestReason says why a vCPU asked the VM to stop without an error,
// from the exit that made it ask (still in kvm_run).
func exitRequestReason(run *kvm.Run) Reason {
	if run.ExitReason == kvm.ExitSystemEvent {
		if typ, _ := run.SystemEvent(); typ == kvm.SystemEventReset {
			return ReasonReset
		}
	}
	return ReasonPowerOff
}
