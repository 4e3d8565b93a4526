package main

import (
	"encoding/binary"
	"fmt"
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

// TestRunTinyKernelThroughMultiboot is the end-to-end check: the tiny
// kernel booted with --boot multiboot and a module reports its argv[0],
// the module, mem_upper and the fw_cfg CPU count on 1 and 4 vCPUs.
func TestRunTinyKernelThroughMultiboot(t *testing.T) {
	needKVM(t)
	bin := helperBinary(t)
	kernel := tinyKernelPath(t)
	module := writeFile(t, "module.txt", []byte("hello from the module\n"))
	for _, cpus := range []int{1, 4} {
		t.Run(fmt.Sprintf("%d vCPUs", cpus), func(t *testing.T) {
			out, stderr, code := runVMM(t, bin, nil, "run", "--kernel", kernel, "--boot", "multiboot", "--initrd", module,
				"--cpus", fmt.Sprint(cpus), "--test-exit", "--cmdline", "test=bootinfo,fwcfg,smp expect_mem=256")
			if code != 0 {
				t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, stderr)
			}
			for _, want := range []string{
				"bootinfo: booted through multiboot",
				"bootinfo: argv0 " + kernel,
				"bootinfo: mem_upper 261120 KiB",
				`bootinfo: module 0: 22 bytes, fnv1a of the first 22: `,
				`, "` + module + `"`,
				fmt.Sprintf("fwcfg: %d CPUs, at most %d, 256 MiB RAM", cpus, cpus),
				"tiny: 3 passed, 0 failed",
			} {
				if !strings.Contains(out, want) {
					t.Errorf("output lacks %q", want)
				}
			}
			if t.Failed() {
				t.Logf("output:\n%s", out)
			}
		})
	}
}
