package main

import (
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"vmm/internal/testutil"
)

// tinyKernelPath is the tiny test kernel built by `make` (make test builds
// it before running the tests).
func tinyKernelPath(t *testing.T) string {
	t.Helper()
	p, err := filepath.Abs("../../guest/build/tiny.elf")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(p); err != nil {
		testutil.Missing(t, "tiny kernel not built (%v): run `make`", err)
	}
	return p
}

// pvhELF builds a minimal PVH kernel whose 32-bit code is code, loaded at
// 1 MiB; memsz lets a test ask for more RAM than the guest has.
func pvhELF(code []byte, memsz uint64) []byte {
	le := binary.LittleEndian
	const phoff, nph = 64, 2
	dataOff := uint64(phoff + nph*56)
	note := make([]byte, 20)
	le.PutUint32(note[0:], 4)
	le.PutUint32(note[4:], 4)
	le.PutUint32(note[8:], 18) // XEN_ELFNOTE_PHYS32_ENTRY
	copy(note[12:], "Xen\x00")
	le.PutUint32(note[16:], 0x100000)
	b := make([]byte, dataOff+uint64(len(code))+uint64(len(note)))
	copy(b, "\x7fELF")
	b[4], b[5], b[6] = 2, 1, 1
	le.PutUint16(b[16:], 2)
	le.PutUint16(b[18:], 62)
	le.PutUint64(b[24:], 0x100000)
	le.PutUint64(b[32:], phoff)
	le.PutUint16(b[54:], 56)
	le.PutUint16(b[56:], nph)
	ph := b[phoff:]
	le.PutUint32(ph[0:], 1) // PT_LOAD
	le.PutUint64(ph[8:], dataOff)
	le.PutUint64(ph[24:], 0x100000)
	le.PutUint64(ph[32:], uint64(len(code)))
	le.PutUint64(ph[40:], max(memsz, uint64(len(code))))
	ph = b[phoff+56:]
	le.PutUint32(ph[0:], 4) // PT_NOTE
	le.PutUint64(ph[8:], dataOff+uint64(len(code)))
	le.PutUint64(ph[32:], uint64(len(note)))
	copy(b[dataOff:], code)
	copy(b[dataOff+uint64(len(code)):], note)
	return b
}

func writeFile(t *testing.T, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestRunTestExitStatus covers what the CLI adds to the guest package's
// tests of the tiny kernel: --cpus and --cmdline reach the guest, its
// serial console is the process's stdout, and --test-exit turns the guest's
// verdict into the process's exit status with nothing on stderr (the
// guest's failure is data, not a VMM error).
func TestRunTestExitStatus(t *testing.T) {
	needKVM(t)
	bin := helperBinary(t)
	tiny := tinyKernelPath(t)
	for _, c := range []struct {
		name   string
		args   []string
		status int
		want   []string
	}{
		{"four vCPUs pass", []string{"--cmdline", "test=cmdline,smp", "--cpus", "4"}, 0,
			[]string{"cmdline: test=cmdline,smp", "smp: 4 CPUs, BSP is APIC id 0", "smp: 3 of 3 APs checked in", "PASS smp", "tiny: 2 passed, 0 failed"}},
		{"a failing case", []string{"--cmdline", "test=serial,fail"}, 3,
			[]string{"PASS serial", "FAIL fail: deliberate failure", "tiny: 1 passed, 1 failed"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			out, stderr, status := runVMM(t, bin, nil, append([]string{"run", "--kernel", tiny, "--test-exit"}, c.args...)...)
			lines := strings.Split(strings.ReplaceAll(out, "\r", ""), "\n")
			for _, w := range c.want {
				if !slices.Contains(lines, w) {
					t.Errorf("stdout lacks the line %q", w)
				}
			}
			for _, l := range lines {
				if strings.HasPrefix(l, "FAIL") && !slices.Contains(c.want, l) {
					t.Errorf("unexpected %q", l)
				}
			}
			if status != c.status || stderr != "" {
				t.Errorf("exit %d with stderr %q, want %d and nothing", status, stderr, c.status)
			}
			if t.Failed() {
				t.Logf("stdout:\n%s", out)
			}
		})
	}
}

func TestRunDefaultDemo(t *testing.T) {
	needKVM(t)
	tinyKernelPath(t) // the embedded copy exists only after make
	out, stderr, code := runVMM(t, helperBinary(t), nil, "run", "--console", "stdio")
	// Without --test-exit the demo ends through the i8042 with status 0
	// whatever its cases found, so the output is the verdict.
	if code != 0 || !strings.Contains(out, "vmm tiny kernel: booted on 1 vCPUs, 256 MiB\n") ||
		!strings.Contains(out, "\ntiny: 5 passed, 0 failed\n") || strings.Contains(out, "FAIL") {
		t.Fatalf("exit %d, want 0 with the banner, five passes and no FAIL\nstdout:\n%s\nstderr:\n%s", code, out, stderr)
	}
}

func TestRunConsoleFile(t *testing.T) {
	needKVM(t)
	p := filepath.Join(t.TempDir(), "console.log")
	_, _, code := runVMM(t, helperBinary(t), nil, "run", "--kernel", tinyKernelPath(t), "--cmdline", "test=serial",
		"--test-exit", "--console", "file:"+p)
	b, err := os.ReadFile(p)
	want := "serial: the quick brown fox jumps over the lazy dog 0123456789\nPASS serial\ntiny: 1 passed, 0 failed\n"
	if code != 0 || err != nil || string(b) != want {
		t.Fatalf("exit %d, console file %q (%v), want exit 0 and exactly %q", code, b, err, want)
	}
}

// TestRunBadInput checks that every kind of bad input gets a one-line error
// naming the problem, the right exit status, and leaves nothing behind.
func TestRunBadInput(t *testing.T) {
	needKVM(t)
	bin := helperBinary(t)
	dir := t.TempDir()
	tiny := tinyKernelPath(t)
	good, _ := os.ReadFile(tiny)
	random := make([]byte, 4096)
	for i := range random {
		random[i] = byte(i*7 + i/13)
	}
	aarch64 := pvhELF([]byte{0xf4}, 0)
	binary.LittleEndian.PutUint16(aarch64[18:], 183)
	oldBz := make([]byte, 8192)
	copy(oldBz[0x202:], "HdrS")
	binary.LittleEndian.PutUint16(oldBz[0x206:], 0x0204)
	consoleFile := filepath.Join(dir, "never-created.log")

	cases := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"missing kernel", []string{"--kernel", filepath.Join(dir, "nope")}, 1, "does not exist"},
		{"kernel is a directory", []string{"--kernel", dir}, 1, "is a directory"},
		{"empty kernel", []string{"--kernel", writeFile(t, "empty", nil)}, 1, "is empty"},
		{"random bytes", []string{"--kernel", writeFile(t, "random", random)}, 1, "not a kernel"},
		{"truncated ELF", []string{"--kernel", writeFile(t, "trunc.elf", good[:100])}, 1, "truncated ELF: program headers run past the end of the file"},
		{"ELF for another machine", []string{"--kernel", writeFile(t, "arm.elf", aarch64)}, 1, "AArch64, not x86-64"},
		{"bzImage too old", []string{"--kernel", writeFile(t, "old.bz", oldBz)}, 1, "boot protocol 2.04 is too old"},
		{"kernel larger than RAM", []string{"--kernel", writeFile(t, "big.elf", pvhELF([]byte{0xf4}, 64<<20)), "--mem", "32M"}, 1, "needs RAM up to 0x4100000 but the guest has 32M: raise --mem"},
		{"initrd larger than RAM", []string{"--kernel", tiny, "--mem", "16M", "--initrd", writeFile(t, "big.img", make([]byte, 20<<20))}, 1, "big.img is 20M, more than the guest's 16M of RAM: raise --mem"},
		{"missing initrd", []string{"--kernel", tiny, "--initrd", filepath.Join(dir, "no.img")}, 1, "initrd " + filepath.Join(dir, "no.img") + " does not exist"},
		{"mem not a size", []string{"--mem", "lots"}, 2, "--mem"},
		{"mem too small", []string{"--kernel", tiny, "--mem", "1M"}, 1, "too small"},
		{"zero cpus", []string{"--cpus", "0"}, 2, "--cpus 0"},
		{"too many cpus", []string{"--cpus", "1000"}, 2, "--cpus 1000"},
		{"bad console", []string{"--console", "tty"}, 2, "--console"},
		{"console in missing dir", []string{"--kernel", tiny, "--console", "file:" + filepath.Join(dir, "no", "x.log")}, 1, "--console"},
		{"bad kernel leaves no console file", []string{"--kernel", writeFile(t, "r2", random), "--console", "file:" + consoleFile}, 1, "not a kernel"},
		{"unknown flag", []string{"--frobnicate"}, 2, "unknown flag"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			stdout, stderr, code := runVMM(t, bin, nil, append([]string{"run"}, c.args...)...)
			if code != c.code {
				t.Errorf("exit %d, want %d", code, c.code)
			}
			lines := strings.Split(strings.TrimSpace(stderr), "\n")
			if len(lines) != 1 || !strings.HasPrefix(lines[0], "vmm: ") || !strings.Contains(lines[0], c.want) {
				t.Errorf("stderr %q, want one line mentioning %q", stderr, c.want)
			}
			if stdout != "" {
				t.Errorf("stdout %q, want nothing", stdout)
			}
		})
	}
	if _, err := os.Stat(consoleFile); !os.IsNotExist(err) {
		t.Errorf("failed run left %s behind (%v)", consoleFile, err)
	}
}

// TestRunStopsOnSignal boots a guest that halts forever with interrupts
// off and checks SIGINT and SIGTERM end the VMM cleanly and promptly.
func TestRunStopsOnSignal(t *testing.T) {
	needKVM(t)
	bin := helperBinary(t)
	kernel := writeFile(t, "halt.elf", pvhELF([]byte{0xfa, 0xf4, 0xeb, 0xfd}, 0)) // cli; hlt; jmp .-1
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			cmd := exec.Command(bin, "-test.run=^TestCheckHelperProcess$", "--", "run", "--kernel", kernel, "--cpus", "2", "--log-level", "info")
			cmd.Env = append(os.Environ(), "VMM_CHECK_HELPER=1")
			var stderr testutil.SyncBuffer
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			// Wait until the guest is loaded, then signal.
			deadline := time.Now().Add(30 * time.Second)
			for !strings.Contains(stderr.String(), "guest loaded") && time.Now().Before(deadline) {
				time.Sleep(20 * time.Millisecond)
			}
			time.Sleep(200 * time.Millisecond)
			_ = cmd.Process.Signal(sig)
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("exit: %v\n%s", err, stderr.String())
				}
			case <-time.After(60 * time.Second):
				_ = cmd.Process.Kill()
				t.Fatalf("vmm did not exit after %v\n%s", sig, stderr.String())
			}
			if !strings.Contains(stderr.String(), "stopping on signal") {
				t.Errorf("stderr lacks the stop message:\n%s", stderr.String())
			}
		})
	}
}

// TestRunTripleFault: a guest that loads an empty IDT and faults ends the
// VMM with status 1 and a clear message, not a hang.
func TestRunTripleFault(t *testing.T) {
	needKVM(t)
	// lidt [zero-limit descriptor at 0x100010]; ud2
	code := []byte{0x0f, 0x01, 0x1d, 0x10, 0x00, 0x10, 0x00, 0x0f, 0x0b, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	kernel := writeFile(t, "tf.elf", pvhELF(code, 0))
	_, stderr, status := runVMM(t, helperBinary(t), nil, "run", "--kernel", kernel)
	if status != 1 || !strings.Contains(stderr, "triple-faulted") || !strings.Contains(stderr, "RIP=") {
		t.Fatalf("exit %d, stderr:\n%s", status, stderr)
	}
}

// TestRunDebianVmlinux boots Debian's cloud kernel (fetched by
// scripts/guest-linux.sh, which make test runs) without the kvm_pvm kernel
// parameters, so it goes as far as this machine's KVM lets an unmodified
// command line go: banner, our command line and our e820 map must appear,
// and the emulation failure that stops it (cmpxchg16b in SLUB here) must be
// reported with RIP and code bytes, exit 1. On a host with hardware KVM
// the kernel boots on until it finds no root filesystem, panics and resets
// through the i8042 (panic=-1, reboot=k): exit 0.
func TestRunDebianVmlinux(t *testing.T) {
	needKVM(t)
	// The same kernel twice: the ELF vmlinux (entered through PVH) and the
	// bzImage (its decompressor, entered at the 64-bit entry point).
	for _, image := range []string{"vmlinux", "bzImage"} {
		t.Run(image, func(t *testing.T) {
			path, _ := filepath.Abs("../../build/linux-debian/" + image)
			if _, err := os.Stat(path); err != nil {
				testutil.Missing(t, "Debian %s not fetched (%v): run scripts/guest-linux.sh (make test does)", image, err)
			}
			bootDebianUntilItStops(t, path)
		})
	}
}

// debianRootPanic is the last thing Debian's kernel does without a root
// filesystem: reached only after every driver and initcall has run.
const debianRootPanic = "Kernel panic - not syncing: VFS: Unable to mount root fs on unknown-block(0,0)"

const debianCmdline = "console=ttyS0 earlyprintk=serial reboot=k panic=-1 vmm.test=debian"

func bootDebianUntilItStops(t *testing.T, kernel string) {
	out, stderr, code := bootLinux(t, "--kernel", kernel, "--mem", "512M", "--cmdline", debianCmdline, "--workarounds", "off", "--log-level", "info")
	for _, p := range debianBootProblems(linuxBoot{out, stderr, code}, onKVMPVM()) {
		t.Error(p)
	}
	if t.Failed() {
		t.Logf("console:\n%s\nlog:\n%s", out, stderr)
	}
}

// debianBootProblems lists what is wrong with a boot of Debian's kernel:
// the early lines must show our command line and e820 map; on kvm_pvm the
// boot must stop with a reported internal error, elsewhere it must get as
// far as the missing root filesystem and reset.
func debianBootProblems(b linuxBoot, pvm bool) []string {
	var p []string
	for _, want := range []string{
		"Linux version 6.1",
		"Command line: " + debianCmdline,
		"BIOS-e820: [mem 0x0000000000000000-0x000000000009fbff] usable",
		"BIOS-e820: [mem 0x000000000009fc00-0x00000000000fffff] reserved",
		"BIOS-e820: [mem 0x0000000000100000-0x000000001fffffff] usable",
	} {
		if !strings.Contains(b.console, want) {
			p = append(p, fmt.Sprintf("console lacks %q", want))
		}
	}
	if n := len(regexp.MustCompile(`BIOS-e820: `).FindAllString(b.console, -1)); n != 3 {
		p = append(p, fmt.Sprintf("console shows %d e820 entries, want exactly our 3", n))
	}
	switch {
	case !pvm:
		if !strings.Contains(b.console, debianRootPanic) {
			p = append(p, fmt.Sprintf("console lacks %q: the kernel did not boot to its end", debianRootPanic))
		}
		if b.status != 0 || !strings.Contains(b.log, "guest requested a reset through the i8042") {
			p = append(p, fmt.Sprintf("exit %d: want 0 after the panic's reset through the i8042", b.status))
		}
	case b.status != 1 || !regexp.MustCompile(`(?m)^vmm: vCPU 0: KVM internal error \(suberror 1: .*\) at RIP 0x[0-9a-f]+ \(code: [0-9a-f ]+\)$`).MatchString(b.log) ||
		!strings.Contains(b.log, "RAX="):
		p = append(p, fmt.Sprintf("exit %d, want 1 with an internal-error report", b.status))
	}
	return p
}
