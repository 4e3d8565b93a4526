package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"vmm/internal/testutil"
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

// linuxHangGuard bounds one boot. Reaching init takes about a minute on
// kvm_pvm (every I/O exit is slow there) and longer under -race; a boot
// that has not ended by then is stuck, and the test says where.
const linuxHangGuard = 6 * time.Minute

// bootLinux runs `vmm run` on the Linux guest through the helper binary and
// returns the console, the log and the exit status. Unlike runVMM it kills
// the VMM when the hang guard expires and fails with what was printed.
func bootLinux(t *testing.T, args ...string) (console, log string, status int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), linuxHangGuard)
	defer cancel()
	argv := append([]string{"-test.run=^TestCheckHelperProcess$", "--", "run"}, args...)
	cmd := exec.CommandContext(ctx, helperBinary(t), argv...)
	cmd.Env = append(os.Environ(), "VMM_CHECK_HELPER=1")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	console, log = stdout.String(), stderr.String()
	if ctx.Err() != nil {
		t.Fatalf("vmm did not end within %v; last console lines:\n%s\nlog:\n%s", linuxHangGuard, tail(console, 20), log)
	}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		status = ee.ExitCode()
	case err != nil:
		t.Fatalf("running vmm %v: %v", args, err)
	}
	if strings.Contains(log, "panic:") || strings.Contains(log, "WARNING: DATA RACE") {
		t.Fatalf("vmm crashed or raced:\n%s", log)
	}
	t.Logf("vmm %s ended with status %d after %v", strings.Join(args, " "), status, time.Since(start).Round(time.Millisecond))
	return console, log, status
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// The kernel prints this just before it executes /init: the finish line on
// hosts whose guest user space cannot make system calls (kvm_pvm).
const runInit = "Run /init as init process"

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
	cmdline := "console=ttyS0 reboot=k panic=-1"
	console, log, status := bootLinux(t, "--kernel", vmlinux, "--initrd", initramfs, "--mem", "512M",
		"--cmdline", cmdline, "--log-level", "info")
	checkLinuxBoot(t, console, log, status, cmdline)
	if !strings.Contains(console, "Allowing 1 CPUs") {
		t.Errorf("console does not say the kernel found exactly 1 CPU")
	}
}

// TestLinuxBootsToInitTwoCPUs is the same boot on two vCPUs, found through
// the VMM's MP table and started with INIT/SIPI by the in-kernel LAPIC. On
// kvm_pvm this needs the VMM to hide the KVM PV features that use VMCALL
// (PV IPIs): without that the boot hung right after the AP's first line.
func TestLinuxBootsToInitTwoCPUs(t *testing.T) {
	needKVM(t)
	vmlinux, initramfs := linuxGuest(t)
	cmdline := "console=ttyS0 reboot=k panic=-1"
	console, log, status := bootLinux(t, "--kernel", vmlinux, "--initrd", initramfs, "--mem", "512M",
		"--cpus", "2", "--cmdline", cmdline, "--log-level", "info")
	checkLinuxBoot(t, console, log, status, cmdline)
	if !strings.Contains(console, "Allowing 2 CPUs") {
		t.Errorf("console does not say the kernel found 2 CPUs in the MP table")
	}
	if !strings.Contains(console, "Brought up 1 node, 2 CPUs") {
		t.Errorf("console does not show the second CPU coming up")
	}
}

// checkLinuxBoot holds what every Linux boot must show.
func checkLinuxBoot(t *testing.T, console, log string, status int, cmdline string) {
	t.Helper()
	for _, want := range []string{
		"Linux version 6.1",
		"Command line: " + cmdline,
		"Unpacking initramfs", // the initrd reached the kernel through the boot protocol
		runInit,
	} {
		if !strings.Contains(console, want) {
			t.Errorf("console lacks %q", want)
		}
	}
	// printk timestamps prove CONFIG_PRINTK_TIME and a running clock.
	if !regexp.MustCompile(`(?m)^\[\s*\d+\.\d{6}\] ` + regexp.QuoteMeta(runInit)).MatchString(console) {
		t.Errorf("%q is not a timestamped kernel line", runInit)
	}
	if status != 0 {
		t.Errorf("vmm exited %d, want 0 after the guest's reset", status)
	}
	if !strings.Contains(log, "guest requested a reset through the i8042") {
		t.Errorf("log lacks the i8042 reset: the VMM did not end through reboot=k")
	}
	m := repairsLine.FindStringSubmatch(log)
	switch {
	case m == nil:
		t.Errorf("log lacks the emulation repairs line")
	case strings.Contains(log, "kvm_pvm") && m[1] == "0":
		t.Errorf("on kvm_pvm the kernel's int3 self-test needs an int3 repair, but the count is 0: %s", m[0])
	}
	if t.Failed() {
		t.Logf("console (last lines):\n%s\nlog:\n%s", tail(console, 40), log)
	}
}
