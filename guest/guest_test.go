package guest_test

import (
	"bytes"
	"debug/elf"
	"errors"
	"fmt"
	"maps"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"vmm/guest"
	"vmm/internal/testutil"
	"vmm/vmm"
)

// bootTinyRepairs boots the tiny kernel and returns its exit status, serial
// output and the VMM's emulation repair counts (vmm.VM.Repairs, e.g. "clac=1 fwait=1 int3=1 ...").
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
	disks                  []vmm.DiskConfig
	inspect                func(vm *vmm.VM) // called after the guest ran, before Close
}

// tinyKernelName is the kernel's name in Config, so multiboot's argv[0].
const tinyKernelName = "tiny.elf"

func bootTinyWith(t *testing.T, r tinyRun) (int, string, string) {
	t.Helper()
	res := bootTinyResult(t, r)
	return res.status, res.out, res.repairs
}

// tinyResult is what one boot of the tiny kernel left behind.
type tinyResult struct {
	status  int
	out     string   // serial output
	repairs string   // vmm.VM.Repairs
	log     []string // the VMM's log messages, in order
}

// logRecorder is a logrus hook that keeps every message.
type logRecorder struct {
	mu   sync.Mutex
	msgs []string
}

func (r *logRecorder) Levels() []logrus.Level { return logrus.AllLevels }

func (r *logRecorder) Fire(e *logrus.Entry) error {
	r.mu.Lock()
	r.msgs = append(r.msgs, e.Message)
	r.mu.Unlock()
	return nil
}

// bootTinyResult boots the tiny kernel as r says, recording the VMM's log
// as well: how the run ended (test-exit write or i8042 reset) is there.
func bootTinyResult(t *testing.T, r tinyRun) tinyResult {
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
	rec := &logRecorder{}
	std := logrus.StandardLogger()
	// Add the recorder beside whatever hooks the caller installed (a test
	// may be counting warnings) and put the set back afterwards.
	hooks := logrus.LevelHooks{}
	for lvl, hs := range std.Hooks {
		hooks[lvl] = append([]logrus.Hook(nil), hs...)
	}
	std.AddHook(rec)
	level := std.GetLevel()
	std.SetLevel(logrus.InfoLevel)
	defer func() { std.ReplaceHooks(hooks); std.SetLevel(level) }()

	var out testutil.SyncBuffer
	vm, err := vmm.New(vmm.Config{
		Kernel: kernel, KernelName: r.kernelName, Cmdline: r.cmdline, Boot: r.boot,
		Initrd: r.initrd, InitrdName: r.initrdName, Disks: r.disks,
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
	if r.inspect != nil {
		r.inspect(vm)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return tinyResult{status: res.Status, out: out.String(), repairs: vm.Repairs(), log: rec.msgs}
}

// outputLines returns the set of serial output lines, without trailing CRs.
func outputLines(out string) map[string]bool {
	lines := map[string]bool{}
	for _, l := range strings.Split(out, "\n") {
		lines[strings.TrimRight(l, "\r")] = true
	}
	return lines
}

// checkOutput requires every line of want and a line matching each of
// patterns, and fails on any FAIL line that is neither: a case that fails
// unexpectedly must fail the test even when the summary looks right (an
// AP's exception, say).
func checkOutput(t *testing.T, out string, want, patterns []string) {
	t.Helper()
	lines := outputLines(out)
	for _, w := range want {
		if !lines[w] {
			t.Errorf("no line %q in serial output", w)
		}
	}
	res := make([]*regexp.Regexp, len(patterns))
	for i, p := range patterns {
		res[i] = regexp.MustCompile("^" + p + "$")
		if !slices.ContainsFunc(slices.Collect(maps.Keys(lines)), res[i].MatchString) {
			t.Errorf("no line matching %q in serial output", p)
		}
	}
	for l := range lines {
		if strings.HasPrefix(l, "FAIL") && !slices.Contains(want, l) && !slices.ContainsFunc(res, func(r *regexp.Regexp) bool { return r.MatchString(l) }) {
			t.Errorf("unexpected %q", l)
		}
	}
}

// Log messages that say how the run ended.
const (
	logTestExit = "guest wrote to the test-exit port; stopping"
	logReset    = "guest requested a reset through the i8042; stopping"
)

// foxLine is what the serial case prints; the Go side checks it arrived
// intact, since the guest cannot see its own output.
const foxLine = "serial: the quick brown fox jumps over the lazy dog 0123456789"

// allCases is the serial output of a passing test=all run, in both protocols.
var allCases = []string{
	"cmdline: test=all expect_mem=256", foxLine,
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
		patterns   []string // regexps some line must match; FAIL lines matching them are expected
		reset      bool     // ends through the i8042 without a summary, not through the test-exit port
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
			wantLines: []string{"vmm tiny kernel: booted on 2 vCPUs, 256 MiB", foxLine, "cmdline: ", "PASS smp", "tiny: 5 passed, 0 failed"},
		},
		{
			name: "demo through multiboot", cmdline: "", boot: "multiboot", cpus: 2, wantStatus: 0,
			wantLines: []string{"vmm tiny kernel: booted on 2 vCPUs, 256 MiB", foxLine, "cmdline: ", "PASS smp", "tiny: 5 passed, 0 failed"},
		},
		{
			name: "deliberate failure", cmdline: "test=serial,fail", cpus: 1, wantStatus: 3,
			wantLines: []string{foxLine, "PASS serial", "FAIL fail: deliberate failure", "tiny: 1 passed, 1 failed"},
		},
		{
			name: "unknown case", cmdline: "test=nosuch", cpus: 1, wantStatus: 3,
			wantLines: []string{"FAIL nosuch: unknown test", "tiny: 0 passed, 1 failed"},
		},
		{
			name: "wrong memory expectation", cmdline: "test=memory expect_mem=512", cpus: 1, wantStatus: 3,
			wantLines: []string{"FAIL memory: highest RAM ends at 10000000, expect_mem=512 says 20000000", "tiny: 0 passed, 1 failed"},
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
			// The AP's exception counts against the run although the case itself passes.
			name: "exception on a secondary CPU", cmdline: "test=apfail", cpus: 2, wantStatus: 3,
			wantLines: []string{"cpu 1 up", "PASS apfail", "tiny: 1 passed, 1 failed"},
			patterns:  []string{`FAIL apfail: unexpected #UD \(vector 6\) on cpu 1 at rip [0-9a-f]+, error 0, cr2 0`},
		},
		{
			name: "shutdown through i8042", cmdline: "test=shutdown", cpus: 1, wantStatus: 0, reset: true,
			wantLines: []string{"shutdown: asking the i8042 for a reset (0xfe to port 0x64)"},
		},
		{
			// boot.S exits before .bss or page tables exist.
			name: "none at once", cmdline: "console=x test=none", cpus: 1, wantStatus: 0,
			wantLines: []string{"tiny: none"},
		},
		{
			name: "none in a list", cmdline: "test=serial,none", cpus: 1, wantStatus: 0,
			wantLines: []string{"PASS serial", "PASS none", "tiny: 2 passed, 0 failed"},
		},
		{
			name: "a later test= overrides none", cmdline: "test=none test=fail", cpus: 1, wantStatus: 3,
			wantLines: []string{"FAIL fail: deliberate failure", "tiny: 0 passed, 1 failed"},
		},
		{
			name: "none is a whole token", cmdline: "test=nonesuch", cpus: 1, wantStatus: 3,
			wantLines: []string{"FAIL nonesuch: unknown test", "tiny: 0 passed, 1 failed"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := bootTinyResult(t, tinyRun{cmdline: tc.cmdline, boot: tc.boot, cpus: tc.cpus})
			checkOutput(t, r.out, tc.wantLines, tc.patterns)
			if r.status != tc.wantStatus {
				t.Errorf("exit status %d, want %d", r.status, tc.wantStatus)
			}
			// How the run ended: a reset leaves no summary line and no
			// test-exit write, so status 0 cannot come from the guest's verdict.
			ended, not := logTestExit, logReset
			if tc.reset {
				ended, not = logReset, logTestExit
				if strings.Contains(r.out, "tiny: ") || strings.Contains(r.out, "PASS") {
					t.Errorf("the guest kept running after its reset request (it printed a result)")
				}
			}
			if !slices.Contains(r.log, ended) || slices.Contains(r.log, not) {
				t.Errorf("the VMM logged %q, want %q and not %q", r.log, ended, not)
			}
			if t.Failed() {
				t.Logf("serial output:\n%s", r.out)
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
			checkOutput(t, out, []string{
				"bootinfo: booted through multiboot",
				"bootinfo: argv0 " + tinyKernelName,
				"bootinfo: mem_lower 639 KiB",
				fmt.Sprintf("bootinfo: mem_upper %d KiB", (256<<20-1<<20)/1024),
				fmt.Sprintf("bootinfo: module 0: %d bytes, fnv1a of the first %d: %08x, \"module.bin\"", len(module), len(module), fnv1a(module)),
				fmt.Sprintf("fwcfg: %d CPUs, at most %d, 256 MiB RAM", cpus, cpus),
				fmt.Sprintf("smp: %d CPUs, BSP is APIC id 0", cpus),
				"tiny: 3 passed, 0 failed",
			}, nil)
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
	checkOutput(t, out, []string{"PASS int3", "PASS intn", "PASS fwait", "PASS clacstac", "tiny: 4 passed, 0 failed"}, nil)
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

// TestTinyKernelLatencyCase: the bench's exit-latency case reports both
// loops, and an unclaimed port and MMIO address read as all ones under vmm.
func TestTinyKernelLatencyCase(t *testing.T) {
	status, out, _ := bootTinyRepairs(t, "test=latency", 1)
	re := regexp.MustCompile(`(?m)^latency: (pio|mmio) [0-9]+\.[0-9] ns per exit \(20000 exits, reads returned ffffffff\)\r?$`)
	if got := re.FindAllStringSubmatch(out, -1); len(got) != 2 || got[0][1] != "pio" || got[1][1] != "mmio" {
		t.Errorf("want one pio and one mmio latency line in ns, got %q", got)
	}
	if status != 0 || !outputLines(out)["PASS latency"] {
		t.Errorf("exit status %d, want 0 and PASS latency", status)
	}
	if t.Failed() {
		t.Logf("serial output:\n%s", out)
	}
}

// TestTinyKernelIdleCase: the idle case halts until a byte reaches the
// serial port, then passes; input that arrived earlier does not end it.
func TestTinyKernelIdleCase(t *testing.T) {
	kernel, err := guest.TinyKernel()
	if errors.Is(err, guest.ErrNotBuilt) {
		t.Skip("guest/build/tiny.elf is missing: run `make` (make test builds it first)")
	}
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat("/dev/kvm"); err != nil {
		t.Skipf("needs /dev/kvm: %v", err)
	}
	var out testutil.SyncBuffer
	vm, err := vmm.New(vmm.Config{Kernel: kernel, KernelName: "tiny.elf", Cmdline: "test=idle",
		MemSize: 256 << 20, CPUs: 1, TestExit: true, Console: &out})
	if err != nil {
		t.Fatal(err)
	}
	defer vm.Close()
	vm.Serial().Enqueue([]byte("early")) // drained by the case before it halts
	done := make(chan vmm.Result, 1)
	go func() { done <- vm.Run() }()
	hung := time.AfterFunc(2*time.Minute, func() { vm.Stop(vmm.Result{Status: -1}) })
	defer hung.Stop()
	for !strings.Contains(out.String(), "idle: halting") {
		select {
		case res := <-done:
			t.Fatalf("VM ended before idling: %+v\nserial output:\n%s", res, out.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
	select {
	case res := <-done:
		t.Fatalf("VM ended while idle: %+v\nserial output:\n%s", res, out.String())
	case <-time.After(100 * time.Millisecond):
	}
	vm.Serial().Enqueue([]byte("x"))
	res := <-done
	if res.Err != nil || res.Status != 0 {
		t.Fatalf("VM ended with %+v, want status 0\nserial output:\n%s", res, out.String())
	}
	lines := outputLines(out.String())
	for _, want := range []string{"PASS idle", "tiny: 1 passed, 0 failed"} {
		if !lines[want] {
			t.Errorf("no line %q in serial output:\n%s", want, out.String())
		}
	}
	if !regexp.MustCompile(`(?m)^idle: byte 78 after [0-9]+ timer ticks`).MatchString(out.String()) {
		t.Errorf("the case did not report the byte 'x' (0x78):\n%s", out.String())
	}
}
