package vmm

import "vmm/kvm"

// cpuMode is the x86 operating mode a vCPU is in, as far as the VMM's
// emulation repairs and crash reports care: it fixes the privilege level,
// how wide RIP is, and how CS:RIP becomes a linear address.
type cpuMode int

const (
	modeReal   cpuMode = iota // CR0.PE clear
	modeVM86                  // protected mode with RFLAGS.VM set
	modeProt16                // protected or compatibility mode, 16-bit code segment
	modeProt32                // protected or compatibility mode, 32-bit code segment
	modeLong64                // IA-32e 64-bit mode (EFER.LMA and CS.L)
)

const (
	rflagsVM  = 1 << 17
	vectorGP  = 13
	ripMask16 = 0xffff
	ripMask32 = 0xffffffff
)

func modeOf(s *kvm.Sregs, rflags uint64) cpuMode {
	switch {
	case s.CR0&cr0PE == 0:
		return modeReal
	case s.EFER&eferLMA != 0 && s.CS.L != 0:
		return modeLong64
	case rflags&rflagsVM != 0:
		return modeVM86
	case s.CS.DB != 0:
		return modeProt32
	default:
		return modeProt16
	}
}

// cplOf is the architectural current privilege level: 0 in real mode, 3 in
// virtual-8086 mode, and otherwise SS.DPL, which is where VMX keeps the
// CPL and what KVM reports on every backend. (The low bits of the CS
// selector can differ from it, for example in a conforming code segment.)
func cplOf(s *kvm.Sregs, mode cpuMode) uint8 {
	switch mode {
	case modeReal:
		return 0
	case modeVM86:
		return 3
	}
	return s.SS.DPL & 3
}

// nextIP is rip advanced by n bytes as the CPU does it: wrapping at 16 or
// 32 bits outside 64-bit mode. ok is false in 64-bit mode when the result
// is not canonical (the CPU raises #GP instead of going there).
func nextIP(mode cpuMode, rip, n uint64) (next uint64, ok bool) {
	switch mode {
	case modeLong64:
		next = rip + n
		return next, isCanonical(next)
	case modeProt32:
		return (rip + n) & ripMask32, true
	default:
		return (rip + n) & ripMask16, true
	}
}

// isCanonical reports whether a 64-bit address has bits 63..47 all equal
// (48-bit linear addresses; a 57-bit LA57 guest is stricter only at
// addresses a repair never reaches).
func isCanonical(a uint64) bool {
	top := int64(a) >> 47
	return top == 0 || top == -1
}

// linearIP turns CS:RIP+off into a linear address: CS's base applies, and
// the address wraps at 4 GiB, outside 64-bit mode.
func linearIP(mode cpuMode, csBase, rip, off uint64) uint64 {
	if mode == modeLong64 {
		return rip + off
	}
	return (csBase + rip + off) & ripMask32
}
