package main

import (
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"path/filepath"
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
