package main

import (
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"slices"
	"strings"
	"testing"
)

// multibootRaw builds a raw multiboot image loaded by its header's address
// fields (header_addr, load_addr, load_end_addr, bss_end_addr, entry_addr)
// with code after the 32-byte header. sum overrides the checksum when not 0.
func multibootRaw(flags, sum uint32, addrs [5]uint32, code []byte) []byte {
	le := binary.LittleEndian
	if sum == 0 {
		sum = -(0x1BADB002 + flags)
	}
	b := le.AppendUint32(nil, 0x1BADB002)
	b = le.AppendUint32(b, flags)
	b = le.AppendUint32(b, sum)
	for _, a := range addrs {
		b = le.AppendUint32(b, a)
	}
	return append(b, code...)
}

// TestRunMultibootMalformed: each malformed multiboot image ends in one
// line naming the problem, exit 1, and no stack trace.
func TestRunMultibootMalformed(t *testing.T) {
	needKVM(t)
	bin := helperBinary(t)
	code := []byte{0xf4, 0xeb, 0xfd}
	const load = 0x100000
	good := [5]uint32{load, load, 0, 0, load + 32}
	cases := []struct {
		name  string
		image []byte
		args  []string
		want  string
	}{
		{"wrong checksum", multibootRaw(0x10000, 12345, good, code), nil, "wrong checksum"},
		{"unknown required flag", multibootRaw(0x10000|1<<7, 0, good, code), nil, "requires features vmm does not know"},
		{"no address fields", multibootRaw(0, 0, good, code)[:12], nil, "no address fields (flag 16)"},
		{"address fields cut off", multibootRaw(0x10000, 0, good, nil)[:24], nil, "cut off"},
		{"header_addr below load_addr", multibootRaw(0x10000, 0, [5]uint32{load, load + 16, 0, 0, load + 32}, code), nil, "below load_addr"},
		{"load_end_addr past the file", multibootRaw(0x10000, 0, [5]uint32{load, load, load + 1<<20, 0, load + 32}, code), nil, "but the file has"},
		{"bss_end_addr inside the data", multibootRaw(0x10000, 0, [5]uint32{load, load, 0, load + 8, load + 32}, code), nil, "bss_end_addr"},
		{"entry outside the image", multibootRaw(0x10000, 0, [5]uint32{load, load, 0, 0, 0x400000}, code), nil, "outside the loaded image"},
		{"over the information block", multibootRaw(0x10000, 0, [5]uint32{0x1000, 0x1000, 0, 0, 0x1020}, code), nil, "multiboot information block"},
		{"larger than RAM", multibootRaw(0x10000, 0, [5]uint32{load, load, 0, 0x7000000, load + 32}, code), []string{"--mem", "64M"}, "raise --mem"},
		{"pvh asked of a multiboot image", multibootRaw(0x10000, 0, good, code), []string{"--boot", "pvh"}, "boots only through multiboot"},
		{"multiboot asked of a PVH-only ELF", pvhELF([]byte{0xf4}, 0), []string{"--boot", "multiboot"}, "no multiboot header"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			args := append([]string{"run", "--kernel", writeFile(t, "k.img", c.image)}, c.args...)
			stdout, stderr, code := runVMM(t, bin, nil, args...)
			lines := strings.Split(strings.TrimSpace(stderr), "\n")
			if code != 1 || len(lines) != 1 || !strings.HasPrefix(lines[0], "vmm: ") || !strings.Contains(lines[0], c.want) {
				t.Errorf("exit %d, stderr %q: want exit 1 and one line mentioning %q", code, stderr, c.want)
			}
			if stdout != "" {
				t.Errorf("stdout %q, want nothing", stdout)
			}
		})
	}
}

func TestRunBootFlagIsValidated(t *testing.T) {
	_, stderr, code := runVMM(t, helperBinary(t), nil, "run", "--boot", "bios")
	if code != 2 || !strings.Contains(stderr, `--boot "bios": use auto, pvh, multiboot, linux`) {
		t.Fatalf("exit %d, stderr %q: want a usage error (2) listing the choices", code, stderr)
	}
}

// TestRunTinyKernelThroughMultiboot checks what the CLI adds to the guest
// package's multiboot tests: --boot multiboot reaches the loader, the
// kernel's path is argv[0], and the --initrd file is the module, named by
// its path, with its bytes intact.
func TestRunTinyKernelThroughMultiboot(t *testing.T) {
	needKVM(t)
	bin := helperBinary(t)
	kernel := tinyKernelPath(t)
	contents := []byte("hello from the module\n")
	module := writeFile(t, "module.txt", contents)
	h := fnv.New32a() // the tiny kernel's module hash
	h.Write(contents)
	out, stderr, code := runVMM(t, bin, nil, "run", "--kernel", kernel, "--boot", "multiboot", "--initrd", module,
		"--test-exit", "--cmdline", "test=bootinfo")
	lines := strings.Split(strings.ReplaceAll(out, "\r", ""), "\n")
	for _, want := range []string{
		"bootinfo: booted through multiboot",
		"bootinfo: argv0 " + kernel,
		fmt.Sprintf("bootinfo: module 0: %d bytes, fnv1a of the first %d: %08x, %q", len(contents), len(contents), h.Sum32(), module),
		"PASS bootinfo",
		"tiny: 1 passed, 0 failed",
	} {
		if !slices.Contains(lines, want) {
			t.Errorf("output lacks the line %q", want)
		}
	}
	if code != 0 || stderr != "" || strings.Contains(out, "FAIL") {
		t.Errorf("exit %d, stderr %q: want 0, nothing, and no FAIL line", code, stderr)
	}
	if t.Failed() {
		t.Logf("output:\n%s", out)
	}
}
