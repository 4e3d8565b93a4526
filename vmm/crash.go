package vmm

import (
	"fmt"
	"strings"

	"vmm/kvm"
)

// GuestCrash is a vCPU stop the VMM cannot recover from. Error() is one
// line for the user; Dump holds the registers and code bytes for a bug report.
type GuestCrash struct {
	VCPU    int
	Summary string
	RIP     uint64
	Code    []byte // instruction bytes at RIP, as far as they could be read
	Dump    string
}

func (g *GuestCrash) Error() string {
	return fmt.Sprintf("vCPU %d: %s at RIP %#x (code: %s)", g.VCPU, g.Summary, g.RIP, hexBytes(g.Code))
}

var internalSuberrors = map[uint32]string{
	kvm.InternalErrorEmulation:            "emulation failure: KVM could not emulate the instruction",
	kvm.InternalErrorSimulEx:              "simultaneous exceptions",
	kvm.InternalErrorDeliveryEv:           "event delivery failed",
	kvm.InternalErrorUnexpectedExitReason: "unexpected hardware exit reason",
}

// internalError reports KVM_EXIT_INTERNAL_ERROR with everything needed to
// see what the guest was doing.
func (vm *VM) internalError(c *kvm.VCPU) error {
	sub, data := c.RunData().InternalError()
	what := internalSuberrors[sub]
	if what == "" {
		what = "unknown"
	}
	msg := fmt.Sprintf("KVM internal error (suberror %d: %s)", sub, what)
	crash := vm.describeCrash(c, msg)
	if len(data) > 0 {
		words := make([]string, len(data))
		for i, d := range data {
			words[i] = fmt.Sprintf("%#x", d)
		}
		crash.Dump += "internal error data: " + strings.Join(words, " ") + "\n"
	}
	return crash
}

// describeCrash wraps an unrecoverable exit in a GuestCrash, reading the
// registers and the code at RIP. It runs on the vCPU's
// own thread, which vCPU ioctls require.
func (vm *VM) describeCrash(c *kvm.VCPU, msg string) *GuestCrash {
	g := &GuestCrash{VCPU: c.ID(), Summary: msg}
	regs, rerr := c.GetRegs()
	sregs, serr := c.GetSregs()
	if rerr != nil || serr != nil {
		g.Dump = fmt.Sprintf("registers unavailable: %v %v\n", rerr, serr)
		return g
	}
	g.RIP = regs.RIP
	mode := modeOf(&sregs, regs.RFlags)
	g.Code = vm.readGuestCode(c, &sregs, mode, regs.RIP, 16)
	var b strings.Builder
	fmt.Fprintf(&b, "RIP=%016x RFLAGS=%016x CPL=%d\n", regs.RIP, regs.RFlags, cplOf(&sregs, mode))
	fmt.Fprintf(&b, "RAX=%016x RBX=%016x RCX=%016x RDX=%016x\n", regs.RAX, regs.RBX, regs.RCX, regs.RDX)
	fmt.Fprintf(&b, "RSI=%016x RDI=%016x RBP=%016x RSP=%016x\n", regs.RSI, regs.RDI, regs.RBP, regs.RSP)
	fmt.Fprintf(&b, "R8 =%016x R9 =%016x R10=%016x R11=%016x\n", regs.R8, regs.R9, regs.R10, regs.R11)
	fmt.Fprintf(&b, "R12=%016x R13=%016x R14=%016x R15=%016x\n", regs.R12, regs.R13, regs.R14, regs.R15)
	for _, s := range []struct {
		n string
		s kvm.Segment
	}{{"CS", sregs.CS}, {"DS", sregs.DS}, {"SS", sregs.SS}, {"TR", sregs.TR}} {
		fmt.Fprintf(&b, "%s=%04x base=%016x limit=%08x type=%x l=%d db=%d\n", s.n, s.s.Selector, s.s.Base, s.s.Limit, s.s.Type, s.s.L, s.s.DB)
	}
	fmt.Fprintf(&b, "CR0=%016x CR2=%016x CR3=%016x CR4=%016x EFER=%016x\n", sregs.CR0, sregs.CR2, sregs.CR3, sregs.CR4, sregs.EFER)
	fmt.Fprintf(&b, "GDT=%016x/%04x IDT=%016x/%04x\n", sregs.GDT.Base, sregs.GDT.Limit, sregs.IDT.Base, sregs.IDT.Limit)
	fmt.Fprintf(&b, "code at RIP: %s\n", hexBytes(g.Code))
	g.Dump = b.String()
	return g
}

// readGuestCode reads up to n bytes at the linear address of CS:RIP,
// translating each page through the guest's page tables and checking each
// physical range against guest RAM. It stops at the first unreadable byte.
//
// Outside 64-bit mode every byte's linear address wraps at 4 GiB, so code
// that straddles the top of the address space is read as the CPU fetches it.
func (vm *VM) readGuestCode(c *kvm.VCPU, s *kvm.Sregs, mode cpuMode, rip uint64, n int) []byte {
	var out []byte
	for len(out) < n {
		addr := linearIP(mode, s.CS.Base, rip, uint64(len(out)))
		pageLeft := 4096 - addr&0xfff
		if mode != modeLong64 {
			pageLeft = min(pageLeft, ripMask32+1-addr) // stop at the wrap
		}
		want := min(uint64(n-len(out)), pageLeft)
		phys := addr
		if s.CR0&cr0PG != 0 {
			tr, err := c.Translate(addr)
			if err != nil || tr.Valid == 0 {
				break
			}
			phys = tr.PhysicalAddress
		}
		b, err := vm.mem.Slice(phys, want)
		if err != nil {
			break
		}
		out = append(out, b...)
	}
	return out
}

func hexBytes(b []byte) string {
	if len(b) == 0 {
		return "unreadable"
	}
	parts := make([]string, len(b))
	for i, c := range b {
		parts[i] = fmt.Sprintf("%02x", c)
	}
	return strings.Join(parts, " ")
}
