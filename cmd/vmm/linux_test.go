package main

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"vmm/internal/testutil"
	"vmm/vmm/hostcheck"
)

// The kernel and initramfs built from guest/linux by
// `scripts/guest-linux.sh build` (make linux-guest). The directory is keyed
// by the inputs, so a test never boots a kernel built from a stale fragment.
func linuxGuest(t *testing.T) (vmlinux, initramfs string) {
	t.Helper()
	var inputs []byte
	for _, f := range []string{"../../guest/linux/vmm.config", "../../guest/linux/init"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatalf("reading the guest kernel's inputs: %v", err)
		}
		inputs = append(inputs, b...)
	}
	sum := sha256.Sum256(inputs)
	dir, err := filepath.Abs(filepath.Join("../../build/linux-guest", hex.EncodeToString(sum[:])[:16]))
	if err != nil {
		t.Fatal(err)
	}
	vmlinux, initramfs = filepath.Join(dir, "vmlinux"), filepath.Join(dir, "initramfs.cpio.gz")
	for _, f := range []string{vmlinux, initramfs} {
		if _, err := os.Stat(f); err != nil {
			testutil.Missing(t, "Linux guest for the current guest/linux not built (%v): run `scripts/guest-linux.sh build` (make linux-guest)", err)
		}
	}
	return vmlinux, initramfs
}

// The kernel prints this just before it executes /init.
const runInit = "Run /init as init process"

// initPanic is how the handover ends on kvm_pvm, where guest user space
// cannot make system calls: /init dies at its first one and the kernel
// panics, which proves init was started.
const initPanic = "Kernel panic - not syncing: Attempted to kill init!"

// onKVMPVM reports whether this host's KVM is kvm_pvm.
func onKVMPVM() bool { return slices.Contains(hostcheck.Backends(), "kvm_pvm") }

// repairsLine is what the VMM logs at exit; the kernel's int3 self-test
// alone needs at least one int3 repair on kvm_pvm.
var repairsLine = regexp.MustCompile(`emulation repairs: [^"\n]*int3=(\d+)`)

// TestLinuxBootsToInit boots our own kernel with the busybox initramfs on
// one vCPU: it must hand over to /init, and then end the VMM by itself with
// status 0 — on kvm_pvm init dies at its first system call, the kernel
// panics and reboots (panic=-1) through the i8042 (reboot=k); on hardware
// KVM /init prints VMM-INIT-REACHED and reboots itself.
func TestLinuxBootsToInit(t *testing.T) {
	needKVM(t)
	vmlinux, initramfs := linuxGuest(t)
	console, log, status := bootLinux(t, "--kernel", vmlinux, "--initrd", initramfs, "--mem", "512M",
		"--cmdline", linuxCmdline, "--log-level", "info")
	checkLinuxBoot(t, linuxBoot{console, log, status}, 1)
}

// TestLinuxBootsToInitTwoCPUs is the same boot on two vCPUs, found through
// the VMM's MP table and started with INIT/SIPI by the in-kernel LAPIC. On
// kvm_pvm this needs the VMM to hide the KVM PV features that use VMCALL
// (PV IPIs): without that the boot hung right after the AP's first line.
func TestLinuxBootsToInitTwoCPUs(t *testing.T) {
	needKVM(t)
	vmlinux, initramfs := linuxGuest(t)
	console, log, status := bootLinux(t, "--kernel", vmlinux, "--initrd", initramfs, "--mem", "512M",
		"--cpus", "2", "--cmdline", linuxCmdline, "--log-level", "info")
	checkLinuxBoot(t, linuxBoot{console, log, status}, 2)
}

// linuxCmdline is what the Linux boot tests pass to our kernel.
const linuxCmdline = "console=ttyS0 reboot=k panic=-1"

// linuxBoot is what one `vmm run` of Linux left behind.
type linuxBoot struct {
	console, log string
	status       int
}

// checkLinuxBoot fails t with every problem linuxBootProblems finds.
func checkLinuxBoot(t *testing.T, b linuxBoot, cpus int) {
	t.Helper()
	for _, p := range linuxBootProblems(b, cpus, onKVMPVM()) {
		t.Error(p)
	}
	if t.Failed() {
		t.Logf("console (last lines):\n%s\nlog:\n%s", tail(b.console, 40), b.log)
	}
}

// linuxBootProblems lists what is wrong with a boot of our kernel on cpus
// vCPUs, up to proof that /init ran: on kvm_pvm (pvm) the kernel's panic
// when init dies at its first system call, elsewhere /init's own marker.
func linuxBootProblems(b linuxBoot, cpus int, pvm bool) []string {
	var p []string
	_, afterInit, _ := strings.Cut(b.console, runInit)
	if pvm {
		if !strings.Contains(afterInit, initPanic) {
			p = append(p, fmt.Sprintf("console lacks %q after %q: nothing shows init was started", initPanic, runInit))
		}
	} else {
		// guest/linux/init prints this "for the tests".
		marker := fmt.Sprintf("VMM-INIT-REACHED cpus=%d", cpus)
		if !regexp.MustCompile(`(?m)^` + marker + `\r?$`).MatchString(afterInit) {
			p = append(p, fmt.Sprintf("console lacks /init's line %q after %q", marker, runInit))
		}
		if strings.Contains(b.console, "Kernel panic") {
			p = append(p, "the kernel panicked where user space can run")
		}
	}
	want := []string{
		"Linux version 6.1",
		"Command line: " + linuxCmdline,
		"Unpacking initramfs", // the initrd reached the kernel through the boot protocol
		runInit,
		fmt.Sprintf("Allowing %d CPUs", cpus), // what the MP table says
	}
	if cpus > 1 {
		want = append(want, fmt.Sprintf("Brought up 1 node, %d CPUs", cpus)) // and they all came up
	}
	for _, w := range want {
		if !strings.Contains(b.console, w) {
			p = append(p, fmt.Sprintf("console lacks %q", w))
		}
	}
	// printk timestamps prove CONFIG_PRINTK_TIME and a running clock.
	if !regexp.MustCompile(`(?m)^\[\s*\d+\.\d{6}\] ` + regexp.QuoteMeta(runInit)).MatchString(b.console) {
		p = append(p, fmt.Sprintf("%q is not a timestamped kernel line", runInit))
	}
	if b.status != 0 {
		p = append(p, fmt.Sprintf("vmm exited %d, want 0 after the guest's reset", b.status))
	}
	if !strings.Contains(b.log, "guest requested a reset through the i8042") {
		p = append(p, "log lacks the i8042 reset: the VMM did not end through reboot=k")
	}
	m := repairsLine.FindStringSubmatch(b.log)
	switch {
	case m == nil:
		p = append(p, "log lacks the emulation repairs line")
	case pvm && m[1] == "0":
		p = append(p, "on kvm_pvm the kernel's int3 self-test needs an int3 repair, but the count is 0: "+m[0])
	}
	return p
}
