package vmm

import (
	"fmt"

	"github.com/sirupsen/logrus"

	"vmm/kvm"
)

// Control register and EFER bits (Intel SDM Vol. 3A, 2.5 and 2.2.1).
const (
	cr0PE    = 1 << 0
	cr0ET    = 1 << 4
	cr0NE    = 1 << 5
	cr0PG    = 1 << 31
	cr4PAE   = 1 << 5
	eferLME  = 1 << 8
	eferLMA  = 1 << 10
	bootRSP  = 0x8ff0 // below the zero page, as Firecracker does
	rflagsRS = 0x2    // bit 1 is reserved and always set

	lapicLVT0       = 0x350
	lapicLVT1       = 0x360
	lapicDeliveryEx = 7 << 8 // ExtINT
	lapicDeliveryNM = 4 << 8 // NMI
	lapicDelivMask  = 7 << 8
)

// bootMSRs are the MSR values a freshly reset CPU would have that Linux
// relies on: no SYSCALL targets yet, fast strings on, write-back MTRR default.
var bootMSRs = []kvm.MSREntry{
	{Index: 0x174}, {Index: 0x175}, {Index: 0x176}, // SYSENTER_CS/ESP/EIP
	{Index: 0xc0000081}, {Index: 0xc0000082}, {Index: 0xc0000083}, // STAR, LSTAR, CSTAR
	{Index: 0xc0000084}, {Index: 0xc0000102}, // SFMASK, KERNEL_GS_BASE
	{Index: 0x10},                   // TSC
	{Index: 0x1a0, Data: 1},         // MISC_ENABLE: fast strings
	{Index: 0x2ff, Data: 1<<11 | 6}, // MTRRdefType: enabled, write-back
}

// configureVCPU sets CPUID, MSRs, FPU and LAPIC for every vCPU, and the
// boot registers for the BSP. APs stay waiting for INIT/SIPI.
func (vm *VM) configureVCPU(v *kvm.VCPU) error {
	id := v.ID()
	tsc, err := v.TSCKHz()
	if err != nil {
		logrus.WithError(err).Debug("KVM_GET_TSC_KHZ failed; guest will calibrate its TSC")
		tsc = 0
	}
	if err := v.SetCPUID2(vcpuCPUID(vm.supportedCPUID, id, vm.cfg.CPUs, tsc, vm.noHypercalls)); err != nil {
		return fmt.Errorf("vCPU %d: set CPUID: %w", id, err)
	}
	if n, err := v.SetMSRs(bootMSRs); err != nil || n != len(bootMSRs) {
		logrus.WithFields(logrus.Fields{"vcpu": id, "set": n, "want": len(bootMSRs)}).WithError(err).Debug("not every boot MSR was accepted")
	}
	fpu := kvm.FPU{FCW: 0x37f, MXCSR: 0x1f80}
	if err := v.SetFPU(&fpu); err != nil {
		return fmt.Errorf("vCPU %d: set FPU: %w", id, err)
	}
	lapic, err := v.GetLAPIC()
	if err != nil {
		return fmt.Errorf("vCPU %d: get LAPIC: %w", id, err)
	}
	lapic.Set32(lapicLVT0, lapic.Get32(lapicLVT0)&^lapicDelivMask|lapicDeliveryEx)
	lapic.Set32(lapicLVT1, lapic.Get32(lapicLVT1)&^lapicDelivMask|lapicDeliveryNM)
	if err := v.SetLAPIC(&lapic); err != nil {
		return fmt.Errorf("vCPU %d: set LAPIC: %w", id, err)
	}
	if id != 0 {
		return nil
	}
	return vm.setBootRegisters(v)
}

// setBootRegisters puts the BSP in the state its boot protocol requires.
func (vm *VM) setBootRegisters(v *kvm.VCPU) error {
	s, err := v.GetSregs()
	if err != nil {
		return fmt.Errorf("get sregs: %w", err)
	}
	flat := func(sel uint16, typ uint8, long bool) kvm.Segment {
		seg := kvm.Segment{Base: 0, Limit: 0xffffffff, Selector: sel, Type: typ, Present: 1, S: 1, G: 1, DB: 1}
		if long {
			seg.L, seg.DB = 1, 0
		}
		return seg
	}
	data := flat(selData, 3, false)
	s.DS, s.ES, s.FS, s.GS, s.SS = data, data, data, data, data
	s.GDT = kvm.DTable{Base: gdtAddr, Limit: uint16(8*len(gdtEntries) - 1)}
	s.IDT = kvm.DTable{Base: idtAddr, Limit: 7}
	s.TR = kvm.Segment{Base: 0, Limit: 0x67, Selector: selTSS, Type: 11, Present: 1}
	regs := kvm.Regs{RFlags: rflagsRS, RIP: vm.kernel.Entry}
	switch vm.kernel.Protocol {
	case BootPVH, BootMultiboot:
		// Flat 32-bit protected mode, paging off, interrupts off: what
		// both PVH and multiboot (spec section 3.2) promise.
		s.CS = flat(selCode32, 11, false)
		s.CR0 = cr0PE | cr0ET
		s.CR4, s.EFER = 0, 0
		regs.RBX = pvhInfoAddr
		if vm.kernel.Protocol == BootMultiboot {
			regs.RAX, regs.RBX = multibootBootloaderMagic, mbInfoAddr
		}
	case BootLinux64:
		s.CS = flat(selCode64, 11, true)
		s.CR3 = pml4Addr
		s.CR4 = cr4PAE
		s.CR0 = cr0PE | cr0ET | cr0NE | cr0PG
		s.EFER = eferLME | eferLMA
		regs.RSI = zeroPageAddr
		regs.RSP, regs.RBP = bootRSP, bootRSP
	}
	if err := v.SetSregs(&s); err != nil {
		return fmt.Errorf("set sregs: %w", err)
	}
	if err := v.SetRegs(&regs); err != nil {
		return fmt.Errorf("set regs: %w", err)
	}
	return nil
}
