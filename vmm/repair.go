package vmm

import (
	"fmt"
	"sort"
	"strings"
	"sync/atomic"
)

// Some KVM backends (kvm_pvm here) cannot emulate a handful of instructions
// and stop the guest with KVM_EXIT_INTERNAL_ERROR (suberror 1, emulation
// failure) with RIP at the instruction. The VMM completes the simple ones
// itself. Each repair is planned as a pure function of the instruction bytes
// and a little CPU state, so it can be tested without a guest, then applied
// through KVM (see repair_apply.go).
//
// Instructions that need operand decoding, memory atomicity or extended
// state (xrstor, popcnt, cmpxchg16b) are not emulated: on kvm_pvm the VMM
// instead asks Linux not to use them (see pvmKernelParams).

// cpuState is the part of the vCPU state a repair looks at.
type cpuState struct {
	RIP    uint64
	RFlags uint64
	CPL    uint8
	Mode   cpuMode
}

// injectKind says what a repair delivers to the guest after moving RIP.
type injectKind int

const (
	injectNone      injectKind = iota
	injectException            // a fault/trap vector, as the CPU would raise it
	injectInterrupt            // a vector delivered through the IDT like `int n`
)

// repairPlan is the effect of one repaired instruction.
type repairPlan struct {
	Name   string // counter name, e.g. "int3"
	RIP    uint64 // new RIP
	RFlags uint64 // new RFLAGS
	Inject injectKind
	Vector uint8
	// HasErrorCode delivers an error code of 0 with the exception (#GP).
	HasErrorCode bool
}

const (
	rflagsAC      = 1 << 18
	vectorUD      = 6
	vectorBP      = 3
	firstUserIntr = 32 // `int n` below this would reach exception handlers
	repairInt3    = "int3"
	repairIntN    = "int_n"
	repairFwait   = "fwait"
	repairClac    = "clac"
	repairStac    = "stac"
	repairPrivUD  = "privileged_ud"
	// repairNoncanonical counts repairs whose next RIP would not be
	// canonical: the guest gets #GP(0) at the instruction instead.
	repairNoncanonical = "noncanonical_gp"
	opInt3             = 0xcc
	opIntN             = 0xcd
	opFwait            = 0x9b
	opTwoByte          = 0x0f
	opGroup7           = 0x01
	modrmClac          = 0xca
	modrmStac          = 0xcb
)

// repairNames lists every counter, in print order.
var repairNames = []string{repairInt3, repairIntN, repairFwait, repairClac, repairStac, repairPrivUD, repairNoncanonical}

// planRepair decides how to complete the instruction at the start of code.
// ok is false for anything the VMM does not handle; the exit then stays fatal.
func planRepair(code []byte, st cpuState) (p repairPlan, ok bool) {
	if len(code) == 0 || st.Mode == modeReal || st.Mode == modeVM86 {
		// Real and virtual-8086 mode deliver interrupts through the IVT
		// and, in vm86, through IOPL-sensitive paths: not worth guessing.
		return p, false
	}
	p.RFlags = st.RFlags
	switch {
	case code[0] == opInt3:
		// A trap: the handler sees RIP after the instruction.
		p.Name, p.RIP, p.Inject, p.Vector = repairInt3, st.RIP+1, injectException, vectorBP
	case code[0] == opIntN && len(code) >= 2:
		if st.CPL != 0 || code[1] < firstUserIntr {
			// From user mode the gate's DPL would have to be checked, and
			// vectors below 32 carry exception semantics (error codes):
			// neither is worth guessing at.
			return p, false
		}
		p.Name, p.RIP, p.Inject, p.Vector = repairIntN, st.RIP+2, injectInterrupt, code[1]
	case code[0] == opFwait:
		// No unmasked x87 exception can be pending in a guest that never
		// touched the FPU in a way KVM could not emulate; complete it as a no-op.
		p.Name, p.RIP = repairFwait, st.RIP+1
	case len(code) >= 3 && code[0] == opTwoByte && code[1] == opGroup7 && (code[2] == modrmClac || code[2] == modrmStac):
		if st.CPL != 0 {
			p.Name, p.RIP, p.Inject, p.Vector = repairPrivUD, st.RIP, injectException, vectorUD
			return p, true
		}
		p.RIP = st.RIP + 3
		if code[2] == modrmClac {
			p.Name, p.RFlags = repairClac, st.RFlags&^rflagsAC
		} else {
			p.Name, p.RFlags = repairStac, st.RFlags|rflagsAC
		}
	default:
		return p, false
	}
	if p.RIP != st.RIP {
		// p.RIP is st.RIP plus the instruction length: wrap it as the CPU
		// would, or, past the canonical boundary, raise #GP(0) at the
		// instruction as the CPU would rather than ask KVM to enter there.
		next, canonical := nextIP(st.Mode, st.RIP, p.RIP-st.RIP)
		if !canonical {
			return repairPlan{Name: repairNoncanonical, RIP: st.RIP, RFlags: st.RFlags, Inject: injectException,
				Vector: vectorGP, HasErrorCode: true}, true
		}
		p.RIP = next
	}
	return p, true
}

// repairCounters counts applied repairs by name. Safe for concurrent use.
type repairCounters struct {
	counts map[string]*atomic.Uint64
}

func newRepairCounters() *repairCounters {
	c := &repairCounters{counts: map[string]*atomic.Uint64{}}
	for _, n := range repairNames {
		c.counts[n] = new(atomic.Uint64)
	}
	return c
}

func (c *repairCounters) add(name string) { c.counts[name].Add(1) }

// Total is the number of repairs applied.
func (c *repairCounters) Total() uint64 {
	var t uint64
	for _, v := range c.counts {
		t += v.Load()
	}
	return t
}

// String renders "int3=1 fwait=2 ..." in a stable order.
func (c *repairCounters) String() string {
	names := append([]string(nil), repairNames...)
	sort.Strings(names)
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = fmt.Sprintf("%s=%d", n, c.counts[n].Load())
	}
	return strings.Join(parts, " ")
}
