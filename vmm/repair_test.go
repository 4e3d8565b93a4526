package vmm

import (
	"strings"
	"testing"
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
			in := cpuState{RIP: rip, RFlags: flags, CPL: c.cpl}
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
