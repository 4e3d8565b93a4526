package vmm

import (
	"fmt"

	"github.com/sirupsen/logrus"

	"vmm/kvm"
)

// tryRepair completes the instruction KVM failed to emulate, if it is one
// the VMM knows. It runs on the vCPU's thread. repaired is false when the
// exit must stay fatal.
func (vm *VM) tryRepair(c *kvm.VCPU) (repaired bool, err error) {
	regs, err := c.GetRegs()
	if err != nil {
		return false, err
	}
	sregs, err := c.GetSregs()
	if err != nil {
		return false, err
	}
	mode := modeOf(&sregs, regs.RFlags)
	code := vm.readGuestCode(c, &sregs, mode, regs.RIP, 3)
	p, ok := planRepair(code, cpuState{RIP: regs.RIP, RFlags: regs.RFlags, CPL: cplOf(&sregs, mode), Mode: mode})
	if !ok {
		return false, nil
	}
	regs.RIP, regs.RFlags = p.RIP, p.RFlags
	if err := c.SetRegs(&regs); err != nil {
		return false, fmt.Errorf("repair %s: set regs: %w", p.Name, err)
	}
	if p.Inject != injectNone {
		ev, err := c.GetVCPUEvents()
		if err != nil {
			return false, fmt.Errorf("repair %s: get events: %w", p.Name, err)
		}
		ev.Flags = 0 // change nothing but what is set below
		switch p.Inject {
		case injectException:
			ev.Exception = kvm.EventException{Injected: 1, Nr: p.Vector}
			if p.HasErrorCode {
				ev.Exception.HasErrorCode = 1
			}
		case injectInterrupt:
			ev.Interrupt = kvm.EventInterrupt{Injected: 1, Nr: p.Vector}
		}
		if err := c.SetVCPUEvents(&ev); err != nil {
			return false, fmt.Errorf("repair %s: inject vector %d: %w", p.Name, p.Vector, err)
		}
	}
	vm.repairs.add(p.Name)
	logrus.WithFields(logrus.Fields{"vcpu": c.ID(), "repair": p.Name, "rip": fmt.Sprintf("%#x", regs.RIP)}).Debug("emulation failure repaired")
	return true, nil
}

// Repairs returns the per-instruction repair counts, e.g. "clac=0 fwait=1 int3=1 ...".
func (vm *VM) Repairs() string { return vm.repairs.String() }
