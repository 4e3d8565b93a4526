package vmm

import (
	"strings"
	"testing"

	"vmm/kvm"
)

func TestPlanRepair(t *testing.T) {
	const rip, flags = 0x1000, 0x2 | 1<<9
	cases := []struct {
		name string
		code []byte
		cpl  uint8
		ok   bool
		want repairPlan
	}{
		{"int3", []byte{0xcc, 0x90}, 0, true, repairPlan{Name: repairInt3, RIP: rip + 1, RFlags: flags, Inject: injectException, Vector: 3}},
		{"int3 in user mode", []byte{0xcc}, 3, true, repairPlan{Name: repairInt3, RIP: rip + 1, RFlags: flags, Inject: injectException, Vector: 3}},
		{"int 0x80 from kernel", []byte{0xcd, 0x80}, 0, true, repairPlan{Name: repairIntN, RIP: rip + 2, RFlags: flags, Inject: injectInterrupt, Vector: 0x80}},
		{"int 0x80 from user", []byte{0xcd, 0x80}, 3, false, repairPlan{}},
		{"int 3 via cd", []byte{0xcd, 0x03}, 0, false, repairPlan{}},
		{"int n truncated", []byte{0xcd}, 0, false, repairPlan{}},
		{"fwait", []byte{0x9b}, 0, true, repairPlan{Name: repairFwait, RIP: rip + 1, RFlags: flags}},
		{"clac", []byte{0x0f, 0x01, 0xca}, 0, true, repairPlan{Name: repairClac, RIP: rip + 3, RFlags: flags &^ rflagsAC}},
		{"stac", []byte{0x0f, 0x01, 0xcb}, 0, true, repairPlan{Name: repairStac, RIP: rip + 3, RFlags: flags | rflagsAC}},
		{"stac from user raises #UD", []byte{0x0f, 0x01, 0xcb}, 3, true, repairPlan{Name: repairPrivUD, RIP: rip, RFlags: flags, Inject: injectException, Vector: 6}},
		{"clac truncated", []byte{0x0f, 0x01}, 0, false, repairPlan{}},
		{"cmpxchg16b", []byte{0xf0, 0x48, 0x0f, 0xc7, 0x4d, 0x20}, 0, false, repairPlan{}},
		{"xrstor", []byte{0x48, 0x0f, 0xae, 0x2f}, 0, false, repairPlan{}},
		{"nothing readable", nil, 0, false, repairPlan{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := cpuState{RIP: rip, RFlags: flags, CPL: c.cpl, Mode: modeLong64}
			if c.name == "clac" {
				in.RFlags |= rflagsAC
			}
			got, ok := planRepair(c.code, in)
			if ok != c.ok || (ok && got != c.want) {
				t.Fatalf("planRepair(% x, cpl %d) = %+v, %v; want %+v, %v", c.code, c.cpl, got, ok, c.want, c.ok)
			}
		})
	}
}

// TestPlanRepairByMode: repairs follow the CPU mode. Real and vm86 mode
// are refused (before the fix a vm86 `int n` from user code was injected
// as an external interrupt, bypassing the gate's DPL and IOPL checks); the
// next RIP wraps at 16 or 32 bits; in 64-bit mode a next RIP that is not
// canonical becomes #GP(0) at the instruction, where KVM_RUN used to fail.
func TestPlanRepairByMode(t *testing.T) {
	const flags = 0x2
	cases := []struct {
		name string
		code []byte
		st   cpuState
		ok   bool
		want repairPlan
	}{
		{"real mode int3", []byte{0xcc}, cpuState{RIP: 0x7c00, Mode: modeReal}, false, repairPlan{}},
		{"vm86 int n", []byte{0xcd, 0x80}, cpuState{RIP: 0x100, CPL: 0, Mode: modeVM86}, false, repairPlan{}},
		{"vm86 int3", []byte{0xcc}, cpuState{RIP: 0x100, CPL: 3, Mode: modeVM86}, false, repairPlan{}},
		{"32-bit wraps", []byte{0xcd, 0x80}, cpuState{RIP: 0xffffffff, Mode: modeProt32},
			true, repairPlan{Name: repairIntN, RIP: 1, Inject: injectInterrupt, Vector: 0x80}},
		{"16-bit wraps", []byte{0x0f, 0x01, 0xca}, cpuState{RIP: 0xfffe, Mode: modeProt16},
			true, repairPlan{Name: repairClac, RIP: 1}},
		{"64-bit canonical", []byte{0xcc}, cpuState{RIP: 0xffffffff81000000, Mode: modeLong64},
			true, repairPlan{Name: repairInt3, RIP: 0xffffffff81000001, Inject: injectException, Vector: vectorBP}},
		{"64-bit next RIP not canonical", []byte{0xcc}, cpuState{RIP: 0x00007fffffffffff, Mode: modeLong64},
			true, repairPlan{Name: repairNoncanonical, RIP: 0x00007fffffffffff, Inject: injectException, Vector: vectorGP, HasErrorCode: true}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.st.RFlags = flags
			c.want.RFlags = flags
			got, ok := planRepair(c.code, c.st)
			if ok != c.ok || (ok && got != c.want) {
				t.Fatalf("planRepair(% x, %+v) = %+v, %v; want %+v, %v", c.code, c.st, got, ok, c.want, c.ok)
			}
		})
	}
}

// TestCPLAndLinearIP: the CPL is SS.DPL (not the CS selector's RPL), 0 in
// real mode and 3 in vm86; a code address wraps at 4 GiB byte by byte.
func TestCPLAndLinearIP(t *testing.T) {
	s := &kvm.Sregs{CR0: cr0PE}
	s.CS.Selector, s.CS.DB, s.SS.DPL = 0x08|3, 1, 0 // RPL 3 in CS, CPL 0
	m := modeOf(s, 0)
	if m != modeProt32 || cplOf(s, m) != 0 {
		t.Fatalf("mode %d cpl %d, want protected 32-bit at CPL 0 (SS.DPL)", m, cplOf(s, m))
	}
	if m := modeOf(s, rflagsVM); m != modeVM86 || cplOf(s, m) != 3 {
		t.Fatalf("vm86: mode %d cpl %d", m, cplOf(s, m))
	}
	if m := modeOf(&kvm.Sregs{}, 0); m != modeReal || cplOf(&kvm.Sregs{}, m) != 0 {
		t.Fatalf("real: mode %d", m)
	}
	s.EFER, s.CS.L = eferLMA, 1
	if modeOf(s, 0) != modeLong64 {
		t.Fatal("EFER.LMA with CS.L is 64-bit mode")
	}
	if got := linearIP(modeProt32, 0xfffffff0, 0xc, 8); got != 4 {
		t.Fatalf("linear address %#x, want it wrapped to 0x4", got)
	}
	if got := linearIP(modeLong64, 0x1000, 0xffffffffffff0000, 8); got != 0xffffffffffff0008 {
		t.Fatalf("64-bit linear %#x: CS base must not apply", got)
	}
}

func TestRepairCounters(t *testing.T) {
	c := newRepairCounters()
	c.add(repairInt3)
	c.add(repairInt3)
	c.add(repairFwait)
	if c.Total() != 3 || !strings.Contains(c.String(), "int3=2") || !strings.Contains(c.String(), "fwait=1") {
		t.Fatalf("counters %q total %d", c.String(), c.Total())
	}
}

func TestBackendWorkarounds(t *testing.T) {
	linux := &Kernel{Linux: true}
	other := &Kernel{}
	pvm := []string{"kvm_pvm"}
	intel := []string{"kvm_intel"}
	cases := []struct {
		mode     string
		k        *Kernel
		backends []string
		want     string
	}{
		{"auto", linux, pvm, "console=ttyS0 " + pvmKernelParams},
		{"", linux, pvm, "console=ttyS0 " + pvmKernelParams},
		{"auto", linux, intel, "console=ttyS0"},
		{"auto", other, pvm, "console=ttyS0"},
		{"on", linux, intel, "console=ttyS0 " + pvmKernelParams},
		{"off", linux, pvm, "console=ttyS0"},
	}
	for _, c := range cases {
		got, err := backendWorkarounds(c.mode, c.k, "console=ttyS0", c.backends)
		if err != nil || got != c.want {
			t.Errorf("mode %q linux %v backends %v: %q, %v; want %q", c.mode, c.k.Linux, c.backends, got, err, c.want)
		}
	}
	if _, err := backendWorkarounds("sometimes", linux, "", pvm); err == nil {
		t.Error("accepted an unknown mode")
	}
}
