//go:build linux

package hostcheck

import (
	"fmt"

	"vmm/kvm"
)

// requiredCaps are the KVM extensions the VMM uses, each with what it is
// for (shown when missing).
var requiredCaps = []struct {
	cap kvm.Cap
	use string
}{
	{kvm.CapIRQChip, "in-kernel PIC/IOAPIC/LAPIC"},
	{kvm.CapUserMemory, "guest RAM from user memory"},
	{kvm.CapSetTSSAddr, "real-mode support on Intel"},
	{kvm.CapPIT2, "in-kernel timer (i8254)"},
	{kvm.CapPITState2, "saving/restoring the PIT"},
	{kvm.CapIOEventFD, "virtio queue notifications without exits"},
	{kvm.CapIRQFD, "device interrupts without exits"},
	{kvm.CapIRQRouting, "routing irqfds as MSIs"},
	{kvm.CapAdjustClock, "setting the guest clock"},
	{kvm.CapMPState, "vCPU run states"},
	{kvm.CapVCPUEvents, "injecting exceptions (int3 repair)"},
	{kvm.CapXSave, "FPU/AVX state"},
	{kvm.CapXCRS, "XCR0"},
	{kvm.CapExtCPUID, "KVM_SET_CPUID2"},
	{kvm.CapImmediateExit, "stopping vCPUs without races"},
}

// notOpened is the verdict of checks that need an open KVM device.
func notOpened(name string) Check {
	return Check{Name: name, Status: Fail, Detail: "not run: the KVM device could not be opened (see device-open)", Fix: "fix device-open first"}
}

// checkKVMAPI asks the open device its API version, extensions and limits,
// and creates a throwaway VM with one vCPU to prove it works end to end.
func checkKVMAPI(h *host) []Check {
	if h.sys == nil {
		// One line, not one per extension: the cause is above.
		return []Check{notOpened("kvm-api")}
	}
	s := h.sys
	var out []Check
	v, err := s.APIVersion()
	switch {
	case err != nil:
		out = append(out, Check{Name: "kvm-api-version", Status: Fail, Detail: err.Error(),
			Fix: "the device does not answer KVM ioctls: check that --device is the KVM device"})
		return out // nothing else will answer either
	case v != kvm.APIVersion12:
		out = append(out, Check{Name: "kvm-api-version", Status: Fail, Detail: fmt.Sprintf("KVM API version %d, want 12", v),
			Fix: "this kernel's KVM speaks another API; use a mainline Linux kernel"})
	default:
		out = append(out, Check{Name: "kvm-api-version", Status: Pass, Detail: "KVM API version 12"})
	}
	for _, rc := range requiredCaps {
		c := Check{Name: "kvm-cap " + rc.cap.String()}
		n, err := s.CheckExtension(rc.cap)
		switch {
		case err != nil:
			c.Status, c.Detail = Fail, err.Error()
			c.Fix = "KVM did not answer KVM_CHECK_EXTENSION; check the kernel log (dmesg)"
		case n <= 0:
			c.Status, c.Detail = Fail, fmt.Sprintf("KVM_CAP_%s not supported (needed for %s)", rc.cap, rc.use)
			c.Fix = "use a newer kernel (5.10 or later has every extension vmm needs)"
		default:
			c.Status, c.Detail = Pass, fmt.Sprintf("supported (%s)", rc.use)
		}
		out = append(out, c)
	}
	out = append(out, limitsCheck(s), createVMCheck(s))
	return out
}

// limitsCheck reports how many vCPUs and memory slots a VM may have.
func limitsCheck(s *kvm.System) Check {
	c := Check{Name: "kvm-limits"}
	maxV, err1 := s.CheckExtension(kvm.CapMaxVCPUs)
	if err1 == nil && maxV == 0 { // old kernels: fall back to the recommended count
		maxV, err1 = s.CheckExtension(kvm.CapNrVCPUs)
	}
	recV, _ := s.CheckExtension(kvm.CapNrVCPUs)
	slots, err2 := s.CheckExtension(kvm.CapNrMemSlots)
	switch {
	case err1 != nil || err2 != nil:
		c.Status, c.Detail = Fail, fmt.Sprintf("cannot read limits: %v %v", err1, err2)
		c.Fix = "KVM did not answer KVM_CHECK_EXTENSION; check dmesg"
	case maxV < 1 || slots < 1:
		c.Status, c.Detail = Fail, fmt.Sprintf("max vCPUs %d, memory slots %d", maxV, slots)
		c.Fix = "KVM reports no room for a VM; check dmesg"
	default:
		c.Status, c.Detail = Pass, fmt.Sprintf("max vCPUs %d (recommended %d), memory slots %d", maxV, recV, slots)
	}
	return c
}

// createVMCheck creates a VM and a vCPU and maps its kvm_run: what fails
// here when VT-x/AMD-V is off or another hypervisor holds it.
func createVMCheck(s *kvm.System) Check {
	c := Check{Name: "kvm-create-vm"}
	vm, err := s.CreateVM()
	if err != nil {
		c.Status, c.Detail = Fail, err.Error()
		c.Fix = "KVM_CREATE_VM failed: check dmesg; another hypervisor (VirtualBox, VMware) may hold VT-x/AMD-V, or memory is short"
		return c
	}
	defer vm.Close()
	v, err := vm.CreateVCPU(0)
	if err != nil {
		c.Status, c.Detail = Fail, err.Error()
		c.Fix = "KVM_CREATE_VCPU failed: check dmesg (virtualization disabled in firmware, or a broken nested setup)"
		return c
	}
	v.Close()
	c.Status, c.Detail = Pass, "created a VM and a vCPU and mapped its kvm_run"
	return c
}
