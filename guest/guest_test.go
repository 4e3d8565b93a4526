package guest_test

import (
	"bytes"
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"vmm/guest"
	"vmm/internal/testutil"
	"vmm/vmm"
)

// bootTiny boots the embedded tiny kernel with the test device attached and
// returns its exit status and serial output.
func bootTiny(t *testing.T, cmdline string, cpus int) (int, string) {
	t.Helper()
	status, out, _ := bootTinyRepairs(t, cmdline, cpus)
	return status, out
}

// bootTinyRepairs is bootTiny that also returns the VMM's emulation repair
// counts (vmm.VM.Repairs, e.g. "clac=1 fwait=1 int3=1 ...").
func bootTinyRepairs(t *testing.T, cmdline string, cpus int) (int, string, string) {
	t.Helper()
	return bootTinyWith(t, tinyRun{cmdline: cmdline, cpus: cpus})
}

// tinyRun is how to boot the tiny kernel: boot is the protocol (Config.Boot,
// "" for auto), initrd an optional module; the names default to
// tinyKernelName and "module.bin".
type tinyRun struct {
	cmdline, boot          string
	cpus                   int
	initrd                 []byte
	kernelName, initrdName string
}

// tinyKernelName is the kernel's name in Config, so multiboot's argv[0].
const tinyKernelName = "tiny.elf"

func bootTinyWith(t *testing.T, r tinyRun) (int, string, string) {
	t.Helper()
	kernel, err := guest.TinyKernel()
	if errors.Is(err, guest.ErrNotBuilt) {
		testutil.Missing(t, "guest/build/tiny.elf is missing: run `make` (make test builds it first)")
	}
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat("/dev/kvm"); err != nil {
		testutil.Missing(t, "needs /dev/kvm: %v", err)
	}
	if r.kernelName == "" {
		r.kernelName = tinyKernelName
	}
	if r.initrdName == "" {
		r.initrdName = "module.bin"
	}
	var out testutil.SyncBuffer
	vm, err := vmm.New(vmm.Config{
		Kernel: kernel, KernelName: r.kernelName, Cmdline: r.cmdline, Boot: r.boot,
		Initrd: r.initrd, InitrdName: r.initrdName,
		MemSize: 256 << 20, CPUs: r.cpus, TestExit: true, Console: &out,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer vm.Close()
	// A hang guard only: a healthy run takes well under a second.
	hung := time.AfterFunc(2*time.Minute, func() { vm.Stop(vmm.Result{Status: -1}) })
	res := vm.Run()
	hung.Stop()
	if res.Err != nil {
		t.Fatalf("VM failed: %v\nserial output:\n%s", res.Err, out.String())
	}
	if res.Status == -1 {
		t.Fatalf("guest did not finish within 2 minutes\nserial output:\n%s", out.String())
	}
	return res.Status, out.String(), vm.Repairs()
}

// outputLines returns the set of serial output lines, without trailing CRs.
func outputLines(out string) map[string]bool {
	lines := map[string]bool{}
	for _, l := range strings.Split(out, "\n") {
		lines[strings.TrimRight(l, "\r")] = true
	}
	return lines
}

// allCases is the serial output of a passing test=all run, in both protocols.
var allCases = []string{
	"cmdline: test=all expect_mem=256",
	"PASS serial", "PASS cmdline", "PASS bootinfo", "PASS memory", "PASS exceptions",
	"cpu 1 up", "cpu 2 up", "cpu 3 up", "PASS smp",
	"PASS irqfd", "PASS pio", "PASS mmio", "PASS fwcfg", "PASS pctestdev",
	"PASS int3", "PASS intn", "PASS fwait", "PASS clacstac",
	"fwcfg: 4 CPUs, at most 4, 256 MiB RAM",
	"pctestdev: echo ok; two edges on IOAPIC input 10 gave 2 interrupts",
	"tiny: 15 passed, 0 failed",
}

func TestTinyKernelUnderVMM(t *testing.T) {
	tests := []struct {
		name       string
		cmdline    string
		boot       string
		cpus       int
		wantStatus int
		wantLines  []string
	}{
		{
			name: "all", cmdline: "test=all expect_mem=256", cpus: 4, wantStatus: 0,
			wantLines: append([]string{"bootinfo: booted through PVH"}, allCases...),
		},
		{
			name: "all through multiboot", cmdline: "test=all expect_mem=256", boot: "multiboot", cpus: 4, wantStatus: 0,
			wantLines: append([]string{"bootinfo: booted through multiboot", "bootinfo: argv0 tiny.elf"}, allCases...),
		},
		{
			name: "demo", cmdline: "", cpus: 2, wantStatus: 0,
			wantLines: []string{"vmm tiny kernel: booted on 2 vCPUs, 256 MiB", "cmdline: ", "PASS smp", "tiny: 5 passed, 0 failed"},
		},
		{
			name: "demo through multiboot", cmdline: "", boot: "multiboot", cpus: 2, wantStatus: 0,
			wantLines: []string{"vmm tiny kernel: booted on 2 vCPUs, 256 MiB", "cmdline: ", "PASS smp", "tiny: 5 passed, 0 failed"},
		},
		{
			name: "deliberate failure", cmdline: "test=serial,fail", cpus: 1, wantStatus: 3,
			wantLines: []string{"PASS serial", "FAIL fail: deliberate failure", "tiny: 1 passed, 1 failed"},
		},
		{
			name: "unknown case", cmdline: "test=nosuch", cpus: 1, wantStatus: 3,
			wantLines: []string{"FAIL nosuch: unknown test", "tiny: 0 passed, 1 failed"},
		},
		{
			name: "wrong memory expectation", cmdline: "test=memory expect_mem=512", cpus: 1, wantStatus: 3,
			wantLines: []string{"FAIL memory: highest RAM ends at 10000000, expect_mem=512 says 20000000"},
		},
		{
			name: "wrong memory expectation through fw_cfg", cmdline: "test=fwcfg expect_mem=512", cpus: 1, wantStatus: 3,
			wantLines: []string{"FAIL fwcfg: fw_cfg RAM size is 256 MiB, expect_mem=512"},
		},
		{
			name: "CPU count disagreeing with fw_cfg", cmdline: "test=fwcfg cpus=3", cpus: 2, wantStatus: 3,
			wantLines: []string{"FAIL fwcfg: fw_cfg says 2 CPUs, cpus= on the command line 3"},
		},
		{
			// The blk_* cases need virtio_mmio.device= disks; without one each fails, saying so.
			name: "blk case without a disk", cmdline: "test=blk_id", cpus: 1, wantStatus: 3,
			wantLines: []string{"FAIL blk_id: no virtio-blk disk on the command line (virtio_mmio.device=<size>@<base>:<irq>); this case needs one that can answer GET_ID"},
		},
		{
			name: "shutdown through i8042", cmdline: "test=shutdown", cpus: 1, wantStatus: 0,
			wantLines: []string{"PASS shutdown"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, out, _ := bootTinyWith(t, tinyRun{cmdline: tc.cmdline, boot: tc.boot, cpus: tc.cpus})
			lines := outputLines(out)
			for _, want := range tc.wantLines {
				if !lines[want] {
					t.Errorf("no line %q in serial output", want)
				}
			}
			if status != tc.wantStatus {
				t.Errorf("exit status %d, want %d", status, tc.wantStatus)
			}
			if t.Failed() {
				t.Logf("serial output:\n%s", out)
			}
		})
	}
}

// fnv1a is the tiny kernel's module hash (32-bit FNV-1a).
func fnv1a(b []byte) uint32 {
	h := uint32(2166136261)
	for _, c := range b {
		h = (h ^ uint32(c)) * 16777619
	}
	return h
}

// TestTinyKernelMultibootReports boots through multiboot on 1 and 4 vCPUs
// with a module and checks what the kernel read: argv[0], the module's
// size, contents and command line, mem_upper, and the fw_cfg CPU count.
func TestTinyKernelMultibootReports(t *testing.T) {
	module := bytes.Repeat([]byte("multiboot module\n"), 700)
	for _, cpus := range []int{1, 4} {
		t.Run(fmt.Sprintf("%d vCPUs", cpus), func(t *testing.T) {
			status, out, _ := bootTinyWith(t, tinyRun{cmdline: "test=bootinfo,fwcfg,smp expect_mem=256", boot: "multiboot", cpus: cpus, initrd: module})
			lines := outputLines(out)
			for _, want := range []string{
				"bootinfo: booted through multiboot",
				"bootinfo: argv0 " + tinyKernelName,
				"bootinfo: mem_lower 639 KiB",
				fmt.Sprintf("bootinfo: mem_upper %d KiB", (256<<20-1<<20)/1024),
				fmt.Sprintf("bootinfo: module 0: %d bytes, fnv1a of the first %d: %08x, \"module.bin\"", len(module), len(module), fnv1a(module)),
				fmt.Sprintf("fwcfg: %d CPUs, at most %d, 256 MiB RAM", cpus, cpus),
				fmt.Sprintf("smp: %d CPUs, BSP is APIC id 0", cpus),
				"tiny: 3 passed, 0 failed",
			} {
				if !lines[want] {
					t.Errorf("no line %q in serial output", want)
				}
			}
			if status != 0 {
				t.Errorf("exit status %d, want 0", status)
			}
			if t.Failed() {
				t.Logf("serial output:\n%s", out)
			}
		})
	}
}

// TestTinyKernelBootProtocols: the image carries both a PVH note and a
// multiboot header; auto picks PVH, and each protocol enters where the
// symbols say.
func TestTinyKernelBootProtocols(t *testing.T) {
	kernel, err := guest.TinyKernel()
	if err != nil {
		testutil.Missing(t, "%v", err)
	}
	f, err := elf.NewFile(bytes.NewReader(kernel))
	if err != nil {
		t.Fatal(err)
	}
	syms, err := f.Symbols()
	if err != nil {
		t.Fatal(err)
	}
	addr := map[string]uint64{}
	for _, s := range syms {
		addr[s.Name] = s.Value
	}
	for _, c := range []struct {
		boot  string
		proto vmm.BootProtocol
		entry uint64
	}{
		{"", vmm.BootPVH, addr["pvh_start"]},
		{"pvh", vmm.BootPVH, addr["pvh_start"]},
		{"multiboot", vmm.BootMultiboot, addr["mb_start"]},
		{"linux", vmm.BootLinux64, f.Entry},
	} {
		k, err := vmm.ParseKernelFor(kernel, c.boot)
		if err != nil {
			t.Fatalf("--boot %q: %v", c.boot, err)
		}
		if k.Protocol != c.proto || k.Entry != c.entry || c.entry == 0 {
			t.Errorf("--boot %q: %v at %#x, want %v at %#x", c.boot, k.Protocol, k.Entry, c.proto, c.entry)
		}
	}
}

// TestTinyKernelRepairedInstructions runs the cases for the instructions
// kvm_pvm cannot emulate (int3, int $0x42, fwait, stac, clac). Where KVM
// stops on them, the VMM must have completed each exactly once; where KVM
// runs them itself, no repair may be counted at all.
func TestTinyKernelRepairedInstructions(t *testing.T) {
	status, out, repairs := bootTinyRepairs(t, "test=int3,intn,fwait,clacstac", 1)
	lines := outputLines(out)
	for _, want := range []string{"PASS int3", "PASS intn", "PASS fwait", "PASS clacstac", "tiny: 4 passed, 0 failed"} {
		if !lines[want] {
			t.Errorf("no line %q in serial output", want)
		}
	}
	if status != 0 {
		t.Errorf("exit status %d, want 0", status)
	}
	counts := map[string]string{}
	for _, kv := range strings.Fields(repairs) {
		if k, v, ok := strings.Cut(kv, "="); ok {
			counts[k] = v
		}
	}
	want := "1"
	if counts["int3"] == "0" {
		want = "0" // this KVM ran int3 itself: it should need no repair for any of them
	}
	for _, name := range []string{"int3", "int_n", "fwait", "clac", "stac"} {
		if counts[name] != want {
			t.Errorf("repair count %s=%q, want %s (all counts: %q)", name, counts[name], want, repairs)
		}
	}
	if counts["privileged_ud"] != "0" {
		t.Errorf("privileged_ud=%q, want 0: every case runs at CPL 0 (all counts: %q)", counts["privileged_ud"], repairs)
	}
	if t.Failed() {
		t.Logf("serial output:\n%s", out)
	}
}
