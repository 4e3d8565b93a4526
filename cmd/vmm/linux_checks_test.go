package main

import (
	"fmt"
	"strings"
	"testing"
)

// Consoles of our kernel's boot, cut to the lines the checks read: on
// kvm_pvm (init dies at its first system call), and where user space runs
// (as QEMU's TCG shows: /init's marker, then its reboot).
const (
	bootHead = `[    0.000000] Linux version 6.1.192 (root@build) (gcc (Debian 12.2.0-14+deb12u1) 12.2.0) #1 SMP
[    0.000000] Command line: console=ttyS0 reboot=k panic=-1 noxsave clearcpuid=smap,smep,cx16,popcnt
[    0.010000] smpboot: Allowing 2 CPUs, 0 hotplug CPUs
[    1.000000] smp: Brought up 1 node, 2 CPUs
[    2.000000] Unpacking initramfs...
[   46.016907] Run /init as init process
`
	pvmTail = `[   46.180197] init[1]: segfault at ffffffff81200040 ip ffffffff81200040 sp 00007fff1462b800 error 15
[   46.197179] Kernel panic - not syncing: Attempted to kill init! exitcode=0x0000000b
`
	userTail = "VMM-INIT-REACHED cpus=2\r\n[    0.900029] reboot: Restarting system\n"
	bootLog  = `level=info msg="guest requested a reset through the i8042; stopping"
level=info msg="emulation repairs: clac=0 fwait=0 int3=1 int_n=0 privileged_ud=0 stac=0"
`
)

// TestLinuxBootChecks feeds linuxBootProblems boots that must pass and
// boots that must not, for kvm_pvm and for a host whose guests run user
// space (which this machine cannot show for real).
func TestLinuxBootChecks(t *testing.T) {
	good := linuxBoot{bootHead + pvmTail, bootLog, 0}
	user := linuxBoot{bootHead + userTail, strings.Replace(bootLog, "int3=1", "int3=0", 1), 0}
	for _, c := range []struct {
		name string
		boot linuxBoot
		pvm  bool
		want string // a problem that must be reported; "" for none
	}{
		{"kvm_pvm: init's panic", good, true, ""},
		{"kvm_pvm: another panic after Run /init", linuxBoot{bootHead + strings.Replace(pvmTail, "Attempted to kill init! exitcode=0x0000000b", "Fatal exception", 1), bootLog, 0}, true, "nothing shows init was started"},
		{"kvm_pvm: init's panic before Run /init", linuxBoot{strings.Replace(bootHead, "[    2.000000]", pvmTail+"[    2.000000]", 1), bootLog, 0}, true, "nothing shows init was started"},
		{"kvm_pvm: no int3 repair", linuxBoot{good.console, user.log, 0}, true, "int3 repair"},
		{"user space: init's marker", user, false, ""},
		{"user space: no marker", linuxBoot{bootHead + "[    0.900029] reboot: Restarting system\n", user.log, 0}, false, "lacks /init's line"},
		{"user space: marker for another CPU count", linuxBoot{strings.Replace(user.console, "cpus=2", "cpus=1", 1), user.log, 0}, false, "VMM-INIT-REACHED cpus=2"},
		{"user space: a panic", linuxBoot{user.console + pvmTail, user.log, 0}, false, "panicked"},
		{"user space: the kvm_pvm ending", linuxBoot{good.console, user.log, 0}, false, "lacks /init's line"},
		{"second CPU never came up", linuxBoot{strings.Replace(good.console, "Brought up 1 node, 2 CPUs", "Brought up 1 node, 1 CPU", 1), bootLog, 0}, true, "Brought up 1 node, 2 CPUs"},
		{"exit status 1", linuxBoot{good.console, bootLog, 1}, true, "vmm exited 1"},
		{"no i8042 reset", linuxBoot{good.console, strings.Replace(bootLog, "i8042", "port 0xf4", 1), 0}, true, "i8042 reset"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := linuxBootProblems(c.boot, 2, c.pvm)
			switch {
			case c.want == "" && len(got) > 0:
				t.Errorf("problems %q, want none", got)
			case c.want != "" && !strings.Contains(fmt.Sprint(got), c.want):
				t.Errorf("problems %q, want one saying %q", got, c.want)
			}
		})
	}
}

// TestDebianBootChecks does the same for debianBootProblems.
func TestDebianBootChecks(t *testing.T) {
	head := "[    0.000000] Linux version 6.1.0-57-cloud-amd64\n[    0.000000] Command line: " + debianCmdline + `
[    0.000000] BIOS-e820: [mem 0x0000000000000000-0x000000000009fbff] usable
[    0.000000] BIOS-e820: [mem 0x000000000009fc00-0x00000000000fffff] reserved
[    0.000000] BIOS-e820: [mem 0x0000000000100000-0x000000001fffffff] usable
`
	rootPanic := "[    1.952982] " + debianRootPanic + "\n"
	reset := `level=info msg="guest requested a reset through the i8042; stopping"` + "\n"
	crash := "vmm: vCPU 0: KVM internal error (suberror 1: emulation failure) at RIP 0xffffffff8123 (code: f0 48 0f c7 0e)\nRAX=0\n"
	for _, c := range []struct {
		name string
		boot linuxBoot
		pvm  bool
		want string
	}{
		{"elsewhere: boots to the root panic", linuxBoot{head + rootPanic, reset, 0}, false, ""},
		{"elsewhere: stops after e820", linuxBoot{head, reset, 0}, false, "did not boot to its end"},
		{"elsewhere: internal error", linuxBoot{head, crash, 1}, false, "exit 1"},
		{"kvm_pvm: internal error", linuxBoot{head, crash, 1}, true, ""},
		{"kvm_pvm: no report", linuxBoot{head, "", 1}, true, "internal-error report"},
		{"a fourth e820 entry", linuxBoot{head + "[    0.000000] BIOS-e820: [mem 0x0000000100000000-0x000000013fffffff] usable\n" + rootPanic, reset, 0}, false, "4 e820 entries"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := debianBootProblems(c.boot, c.pvm)
			switch {
			case c.want == "" && len(got) > 0:
				t.Errorf("problems %q, want none", got)
			case c.want != "" && !strings.Contains(fmt.Sprint(got), c.want):
				t.Errorf("problems %q, want one saying %q", got, c.want)
			}
		})
	}
}
