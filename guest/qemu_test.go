package guest_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"vmm/guest"
	"vmm/internal/testutil"
)

// TestTinyKernelMultibootMatchesQEMU boots the tiny kernel through
// multiboot under QEMU (software emulation: QEMU's -kernel takes the
// multiboot header first) and under vmm, with the same file names, module
// and command line, and compares what the kernel reports: a second
// implementation of the loader, fw_cfg and pc-testdev.
func TestTinyKernelMultibootMatchesQEMU(t *testing.T) {
	qemu, err := exec.LookPath("qemu-system-x86_64")
	if err != nil {
		testutil.Missing(t, "qemu-system-x86_64 not found (apt-get install qemu-system-x86): %v", err)
	}
	const kernelPath = "build/tiny.elf"
	image, err := os.ReadFile(kernelPath)
	if err != nil {
		testutil.Missing(t, "the tiny kernel is not built (run `make`): %v", err)
	}
	if kernel, err := guest.TinyKernel(); err != nil || !bytes.Equal(image, kernel) {
		testutil.Missing(t, "%s differs from the kernel embedded in this test binary: run `make` again", kernelPath)
	}
	module := bytes.Repeat([]byte("module for QEMU and vmm\n"), 300)
	modPath := filepath.Join(t.TempDir(), "module.txt")
	if err := os.WriteFile(modPath, module, 0o644); err != nil {
		t.Fatal(err)
	}
	// cpus=: SeaBIOS's MP table under QEMU lists only the boot CPU.
	cmdline := "test=serial,cmdline,bootinfo,fwcfg,pctestdev,smp cpus=4 expect_mem=256"

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute) // a hang guard only
	defer cancel()
	cmd := exec.CommandContext(ctx, qemu, "-M", "pc", "-accel", "tcg", "-m", "256", "-smp", "4",
		"-nographic", "-no-reboot", "-net", "none",
		"-kernel", kernelPath, "-initrd", modPath, "-append", cmdline,
		"-device", "isa-debug-exit,iobase=0xf4,iosize=4", "-device", "pc-testdev")
	qout, err := cmd.Output()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 { // isa-debug-exit: (0 << 1) | 1
		t.Fatalf("QEMU: %v, want exit status 1 (the guest wrote 0)\n%s", err, qout)
	}
	status, vout, _ := bootTinyWith(t, tinyRun{cmdline: cmdline, boot: "multiboot", cpus: 4, initrd: module,
		kernelName: kernelPath, initrdName: modPath})
	if status != 0 {
		t.Fatalf("vmm: exit status %d\n%s", status, vout)
	}

	// Lines that must be the same; addresses and mem_upper differ (QEMU's
	// firmware keeps the top 128 KiB of RAM), and each kernel checks those
	// against its own memory map.
	reported := func(out string) []string {
		var keep []string
		for _, l := range strings.Split(out, "\n") {
			l = strings.TrimRight(l, "\r")
			if strings.HasPrefix(l, "bootinfo: module 0 at ") || strings.HasPrefix(l, "bootinfo: mem_upper ") {
				continue
			}
			for _, p := range []string{"PASS ", "FAIL ", "tiny: ", "cmdline: ", "bootinfo: ", "fwcfg: ", "pctestdev: ", "smp: "} {
				if strings.HasPrefix(l, p) {
					keep = append(keep, l)
				}
			}
		}
		return keep
	}
	q, v := reported(string(qout)), reported(vout)
	if strings.Join(q, "\n") != strings.Join(v, "\n") {
		t.Errorf("QEMU and vmm report differently\nQEMU:\n%s\n\nvmm:\n%s", strings.Join(q, "\n"), strings.Join(v, "\n"))
	}
	for _, want := range []string{"bootinfo: argv0 " + kernelPath, "fwcfg: 4 CPUs, at most 4, 256 MiB RAM", "tiny: 6 passed, 0 failed"} {
		if !strings.Contains(strings.Join(v, "\n"), want) {
			t.Errorf("no line %q", want)
		}
	}
}
