package main

import (
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestSummarize(t *testing.T) {
	tests := []struct {
		in   []float64
		want summary
	}{
		{[]float64{3}, summary{1, 3, 3, 3}},
		{[]float64{5, 1, 3}, summary{3, 3, 1, 5}},
		{[]float64{4, 1, 3, 2}, summary{4, 2.5, 1, 4}},
	}
	for _, tc := range tests {
		if got, ok := summarize(tc.in); !ok || got != tc.want {
			t.Errorf("summarize(%v) = %+v, %v; want %+v", tc.in, got, ok, tc.want)
		}
	}
	if _, ok := summarize(nil); ok {
		t.Error("summarize(nil) reported a summary")
	}
	if !math.IsNaN(ratio(1, 0)) || !math.IsNaN(ratio(math.NaN(), 1)) || ratio(1, 4) != 0.25 {
		t.Error("ratio")
	}
}

func TestFormatValue(t *testing.T) {
	for in, want := range map[float64]string{11723.4: "11,723", 1234567: "1,234,567", 250.4: "250", 14.26: "14.3", 4.124: "4.12", -1500: "-1,500"} {
		if got := formatValue(in); got != want {
			t.Errorf("formatValue(%v) = %q, want %q", in, got, want)
		}
	}
}

func TestParseLatency(t *testing.T) {
	out := "latency: pio 11723.4 ns per exit (20000 exits, reads returned ffffffff)\r\n" +
		"latency: mmio 10902.7 ns per exit (20000 exits, reads returned 0)\r\nPASS latency\r\n"
	v, err := parseLatency(out)
	if err != nil || v["pio"] != 11723.4 || v["mmio"] != 10902.7 {
		t.Fatalf("parseLatency = %v, %v", v, err)
	}
	if _, err := parseLatency("latency: pio 32841 cycles per exit (20000 exits, reads returned ffffffff)\nlatency: mmio 1 cycles per exit"); err == nil {
		t.Error("cycles accepted as ns")
	}
	if _, err := parseLatency("latency: pio 1.0 ns per exit"); err == nil {
		t.Error("a missing mmio line was accepted")
	}
}

func TestFirstRunTime(t *testing.T) {
	want := time.Date(2026, 12, 2, 5, 16, 30, 418027606, time.UTC)
	tests := []struct {
		c      column
		stderr string
	}{
		{colVMM, `time="2026-12-02T05:16:30.417412653Z" level=info msg="guest loaded" cpus=1` + "\n" +
			`time="2026-12-02T05:16:30.418027606Z" level=debug msg="entering the guest (first KVM_RUN)" vcpu=0` + "\n"},
		{colQEMU, "19718@1796188262.100000:kvm_vcpu_ioctl cpu_index 0, type 0x4008ae9c, arg 0x1\n" +
			"19718@" + unixText(want, 6) + ":kvm_vcpu_ioctl cpu_index 0, type 0xae80, arg (nil)\n" +
			"19718@1796188263.000000:kvm_vcpu_ioctl cpu_index 0, type 0xae80, arg (nil)\n"},
		{colLimit, "floor: first KVM_RUN at " + unixText(want, 9) + "\n"},
	}
	for _, tc := range tests {
		got, err := firstRunTime(tc.c, tc.stderr)
		w := want
		if tc.c == colQEMU {
			w = want.Truncate(time.Microsecond)
		}
		if err != nil || !got.Equal(w) {
			t.Errorf("column %d: firstRunTime = %v, %v; want %v", tc.c, got, err, w)
		}
	}
	if _, err := firstRunTime(colQEMU, "19718@1.5:kvm_vcpu_ioctl cpu_index 0, type 0xae80a, arg 0"); err == nil {
		t.Error("another ioctl taken for KVM_RUN")
	}
}

// unixText formats t as seconds with digits decimals, as QEMU's trace and the floor print it.
func unixText(t time.Time, digits int) string {
	return fmt.Sprintf("%d.%09d", t.Unix(), t.Nanosecond())[:len(fmt.Sprint(t.Unix()))+1+digits]
}

// smapsSample is trimmed from a real /proc/PID/smaps of vmm with a 256 MiB guest.
const smapsSample = `00400000-0074e000 r-xp 00000000 00:1f 123                                /work/bin/vmm
Size:               3384 kB
Rss:                1900 kB
7f3a80000000-7f3a90000000 rw-p 00000000 00:00 0 
Size:             262144 kB
KernelPageSize:        4 kB
Rss:                 520 kB
Pss:                 520 kB
7f3a90000000-7f3a90200000 rw-p 00000000 00:00 0 
Size:               2048 kB
Rss:                 300 kB
7f3aa0000000-7f3ab0001000 rw-p 00000000 00:00 0                          [anon:guest]
Size:             262148 kB
Rss:                 100 kB
7ffd1000-7ffd2000 rw-p 00000000 00:00 0                                  [stack]
Size:                132 kB
Rss:                  16 kB
`

func TestGuestRss(t *testing.T) {
	f := writeTemp(t, smapsSample)
	got, err := guestRss(f, 256<<20)
	if err != nil || got != 520<<10 {
		t.Fatalf("guestRss = %d, %v; want %d (the 256 MiB anonymous mapping with most Rss)", got, err, 520<<10)
	}
	f = writeTemp(t, smapsSample)
	if _, err := guestRss(f, 512<<20); err == nil {
		t.Error("found a 512 MiB mapping that is not there")
	}
}

func TestRollupRss(t *testing.T) {
	f := writeTemp(t, "00400000-7fff0000 ---p 00000000 00:00 0                          [rollup]\nRss:                4884 kB\nPss:                4800 kB\nAnonymous:          1234 kB\n")
	if rss, anon, err := rollupRss(f); err != nil || rss != 4884<<10 || anon != 1234<<10 {
		t.Fatalf("rollupRss = %d, %d, %v", rss, anon, err)
	}
	f = writeTemp(t, "Rss:                4884 kB\n")
	if _, _, err := rollupRss(f); err == nil {
		t.Fatal("accepted a rollup without an Anonymous line")
	}
}

func TestIsMappingHeader(t *testing.T) {
	for line, want := range map[string]bool{
		"7f3a80000000-7f3a90000000 rw-p 00000000 00:00 0": true,
		"Rss:                 520 kB":                     false,
		"VmFlags: rd wr mr mw me ac sd":                   false,
		"ffffffffff600000-ffffffffff601000 --xp 0 0 0":    true,
	} {
		if isMappingHeader(line) != want {
			t.Errorf("isMappingHeader(%q) = %v", line, !want)
		}
	}
}

func TestOrderRotates(t *testing.T) {
	seen := map[column]int{}
	for r := 0; r < int(numCols); r++ {
		o := order(r)
		seen[o[0]]++
		if len(o) != int(numCols) {
			t.Fatalf("order(%d) = %v", r, o)
		}
	}
	for c := column(0); c < numCols; c++ {
		if seen[c] != 1 {
			t.Errorf("column %d ran first in %d of %d rounds", c, seen[c], numCols)
		}
	}
}

func writeTemp(t *testing.T, s string) *os.File {
	t.Helper()
	p := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func TestKernelClockAt(t *testing.T) {
	out := "[    0.000000] Linux version 6.1\r\n[   45.091234] Run /init as init process\r\n"
	if got, ok := kernelClockAt(out, initLine); !ok || got != 45.091234 {
		t.Errorf("kernelClockAt = %v, %v", got, ok)
	}
	if _, ok := kernelClockAt("Run /init as init process", initLine); ok {
		t.Error("a line without a timestamp gave one")
	}
}

func TestLastKernelLine(t *testing.T) {
	out := "[    1.0] first\r\nnoise\r\n[    8.2] int3 self-test\r\n"
	if got := lastKernelLine(out); got != "last: int3 self-test" {
		t.Errorf("lastKernelLine = %q", got)
	}
}

func TestPairedRatio(t *testing.T) {
	// Round 2 ran on a loaded machine: both columns slow, the ratio steady.
	a, b := []float64{11, 22, 12}, []float64{10, 20, 12}
	if got := pairedRatio(a, b); got != 1.1 {
		t.Errorf("pairedRatio = %v, want 1.1 (the median of 1.1, 1.1, 1.0)", got)
	}
	if got := pairedRatio([]float64{4, 6}, []float64{2}); got != 2.5 {
		t.Errorf("unequal lengths: %v, want the ratio of medians 2.5", got)
	}
	if !math.IsNaN(pairedRatio(nil, []float64{1})) {
		t.Error("no samples gave a ratio")
	}
}

func TestBlankMultiboot(t *testing.T) {
	b := make([]byte, 12000)
	le := binary.LittleEndian
	put := func(off int, flags uint32) {
		le.PutUint32(b[off:], multibootMagic)
		le.PutUint32(b[off+4:], flags)
		le.PutUint32(b[off+8:], -(multibootMagic + flags))
	}
	put(0x11d0, 0x00010003)                 // a header: blanked
	le.PutUint32(b[0x200:], multibootMagic) // magic without a matching checksum: kept
	put(9000, 3)                            // past the first 8 KiB: kept
	if n := blankMultiboot(b); n != 1 {
		t.Fatalf("blanked %d headers, want 1", n)
	}
	if le.Uint32(b[0x11d0:]) != 0 || le.Uint32(b[0x200:]) != multibootMagic || le.Uint32(b[9000:]) != multibootMagic {
		t.Error("blanked the wrong bytes")
	}
}

func TestParsePerf(t *testing.T) {
	out := "blk_perf: disk 0, interrupts, EVENT_IDX on, TSC 2600000 kHz from CPUID 0x40000010\r\n" +
		"blk_perf: randread 4k qd32: 4000 requests in 889933 us: 4494 IOPS, 18.41 MB/s, 0.03 notifies/req, 0.03 interrupts/req\r\n" +
		"blk_perf: seqread 1m qd8: 256 requests in 177574 us: 1441 IOPS, 1511.67 MB/s, 0.38 notifies/req, 0.06 interrupts/req\r\n"
	res, err := parsePerf(out)
	if err != nil {
		t.Fatal(err)
	}
	if r := res["randread 4k qd32"]; r.requests != 4000 || r.iops != 4494 || r.mbs != 18.41 {
		t.Errorf("randread 4k qd32 = %+v", r)
	}
	if r := res["seqread 1m qd8"]; r.requests != 256 || r.mbs != 1511.67 {
		t.Errorf("seqread 1m qd8 = %+v", r)
	}
	if _, err := parsePerf("PASS blk_perf\n"); err == nil {
		t.Error("no job line accepted")
	}
}

func TestCountExits(t *testing.T) {
	trace := `# tracer: nop
             vmm-1118    (   1116) [001] .....   458.60: kvm_mmio: mmio write len 4 gpa 0xd0000050 val 0x0
             vmm-1118    (   1116) [001] .....   458.61: kvm_pio: pio_write at 0x80 size 1 count 1 val 0x2
             vmm-1118    (   1116) [001] .....   458.62: kvm_userspace_exit: reason KVM_EXIT_IO (2)
             vmm-1118    (   1116) [001] .....   458.63: kvm_mmio: mmio write len 4 gpa 0xd0000050 val 0x0
             qemu-9-9    (      9) [000] .....   458.63: kvm_mmio: mmio write len 4 gpa 0xd0000050 val 0x0
             vmm-1118    (   1116) [001] .....   458.64: kvm_vcpu_wakeup: wait time 136217 ns, polling valid
             vmm-1118    (   1116) [001] .....   458.65: kvm_mmio: mmio unsatisfied-read len 4 gpa 0xd0000060 val 0x0
             vmm-1118    (   1116) [001] .....   458.65: kvm_userspace_exit: reason KVM_EXIT_MMIO (6)
             vmm-1118    (   1116) [001] .....   458.66: kvm_mmio: mmio read len 4 gpa 0xd0000060 val 0x1
             vmm-1118    (   1116) [001] .....   458.67: kvm_pio: pio_write at 0x3f8 size 1 count 1 val 0x41
             vmm-1118    (   1116) [001] .....   458.68: kvm_pio: pio_write at 0x80 size 1 count 1 val 0x3
             vmm-1118    (   1116) [001] .....   458.69: kvm_mmio: mmio write len 4 gpa 0xd0000050 val 0x0
`
	jobs, err := countExits(strings.NewReader(trace), 1116)
	if err != nil {
		t.Fatal(err)
	}
	want := exitCount{mmio: 2, pio: 1, halts: 1, userspace: 2}
	if len(jobs) != 1 || jobs[1] != want {
		t.Errorf("countExits = %+v, want job 1 = %+v", jobs, want)
	}
	if jobs[1].exits() != 4 {
		t.Errorf("exits() = %d, want 4", jobs[1].exits())
	}
}

func TestParseFio(t *testing.T) {
	js := `note: both iodepth >= 1 and synchronous I/O engine are selected
{"jobs": [{"usr_cpu": 4.0, "sys_cpu": 28.0, "job_runtime": 1000,
  "read": {"io_bytes": 1073741824, "bw_bytes": 1073741824, "iops": 262144, "total_ios": 262144},
  "write": {"io_bytes": 0, "bw_bytes": 0, "iops": 0, "total_ios": 0}}]}`
	r, err := parseFio([]byte(js))
	if err != nil {
		t.Fatal(err)
	}
	if r.iops != 262144 || r.mbs != 1073.741824 || r.cpuMsPerGiB != 320 {
		t.Errorf("parseFio = %+v", r)
	}
}

func TestParseDeviceBench(t *testing.T) {
	out := "goos: linux\nBenchmarkDevice/randread4k-qd32-2   \t  150000\t     12000 ns/op\t  81319 IOPS\t       333.1 MB/s\t      5500 cpu-ns/op\t       0 B/op\t       0 allocs/op\nPASS\n"
	r, err := parseDeviceBench(out, 4096)
	if err != nil {
		t.Fatal(err)
	}
	if r.iops != 81319 || r.mbs != 333.1 || math.Abs(r.cpuMsPerGiB-5500*262144/1e6) > 1e-9 {
		t.Errorf("parseDeviceBench = %+v", r)
	}
	if _, err := parseDeviceBench(strings.Replace(out, "       0 allocs/op", "       2 allocs/op", 1), 4096); err == nil {
		t.Error("allocations per request accepted")
	}
}

func TestGoals(t *testing.T) {
	for _, tc := range []struct {
		g    goal
		v    float64
		met  bool
		text string
	}{
		{atMost(colLimit, 1.1), 1.1, true, "≤ 1.10× limit"},
		{atLeast(colQEMU, 1.2), 1.19, false, "≥ 1.20× QEMU"},
		{atLeast(colQEMU, 1.2), 1.2, true, "≥ 1.20× QEMU"},
		{below(colQEMU, 1), 1, false, "< 1.00× QEMU"},
		{below(colQEMU, 1), 0.99, true, "< 1.00× QEMU"},
	} {
		if tc.g.met(tc.v) != tc.met || tc.g.String() != tc.text {
			t.Errorf("%s met(%v) = %v, want %v (%q)", tc.g, tc.v, tc.g.met(tc.v), tc.met, tc.text)
		}
	}
}
