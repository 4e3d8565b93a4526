package guest_test

import (
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"vmm/devices/virtio"
	"vmm/devices/virtio/block"
	"vmm/guest"
	"vmm/vmm"
)

// hostileKinds is what test=blk_hostile does wrong on the writable disk it
// abuses (kernel/tests_blk_hostile.c, one line per check there), by the
// error the device counts it as.
var hostileKinds = map[error]uint64{
	virtio.ErrHeadIndex:        1, // blk_h_ring
	virtio.ErrAvailIndex:       1,
	virtio.ErrHeadInFlight:     1,
	virtio.ErrNextIndex:        2, // blk_h_chain, blk_h_indirect
	virtio.ErrChainTooLong:     1,
	virtio.ErrIndirectLength:   3, // blk_h_indirect
	virtio.ErrIndirectNested:   1,
	virtio.ErrIndirectWithNext: 1,
	virtio.ErrIndirectNotOK:    1, // blk_h_noindirect
	virtio.ErrDescriptorMemory: 4, // blk_h_memory
	block.ErrNoStatus:          2, // blk_h_status
	block.ErrStatusShared:      1,
	block.ErrHeader:            2, // blk_h_header
	block.ErrDirection:         2,
	block.ErrBeyondCapacity:    3,        // blk_h_bounds
	block.ErrUnaligned:         2 + 1024, // blk_h_bounds, blk_h_flood
	block.ErrTooManySegments:   1,
	block.ErrSegmentTooLarge:   1,
	block.ErrUnsupported:       1, // blk_h_unsupp
	block.ErrRangeFlags:        2,
	virtio.ErrQueueLayout:      2, // blk_h_layout
	virtio.ErrLiveQueueWrite:   2, // blk_h_liveregs
	virtio.ErrDriverOKEarly:    1, // blk_h_nofeatok
}

// roKinds is what test=blk (blk_ro: one write) and test=blk_hostile
// (blk_h_ro: a write, and a discard and a write zeroes the read-only disk
// never offered) send the read-only disk.
var roKinds = map[error]uint64{
	block.ErrReadOnly:    2,
	block.ErrUnsupported: 2,
}

func kindNames(m map[error]uint64) map[string]uint64 {
	out := map[string]uint64{}
	for err, n := range m {
		out[err.Error()] = n
	}
	return out
}

// warningLog collects the standard logger's warnings while a test runs,
// instead of printing them.
type warningLog struct {
	mu      sync.Mutex
	entries []*logrus.Entry
}

func (w *warningLog) Levels() []logrus.Level { return []logrus.Level{logrus.WarnLevel} }

func (w *warningLog) Fire(e *logrus.Entry) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.entries = append(w.entries, e.Dup())
	return nil
}

// byDisk returns the times of the warnings logged for disk.
func (w *warningLog) byDisk(disk string) []time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	var ts []time.Time
	for _, e := range w.entries {
		if e.Data["disk"] == disk {
			ts = append(ts, e.Time)
		}
	}
	return ts
}

func captureWarnings(t *testing.T) *warningLog {
	w := &warningLog{}
	std := logrus.StandardLogger()
	hooks := logrus.LevelHooks{}
	for l, hs := range std.Hooks {
		hooks[l] = slices.Clone(hs)
	}
	out := std.Out
	std.AddHook(w)
	std.SetOutput(io.Discard)
	t.Cleanup(func() {
		std.ReplaceHooks(hooks)
		std.SetOutput(out)
	})
	return w
}

// logBurstLimit is the most warnings a disk may log in any one second:
// the device logs at most 5 a second and one "N more not logged" line per
// second, and a sliding second overlaps two of its one-second windows.
const logBurstLimit = 2 * (5 + 1)

// TestTinyKernelBlkHostile boots the tiny kernel on three disks (plain,
// read-only, O_DIRECT), runs test=blk and then test=blk_hostile, and wants
// every case to pass, the host-check pattern on both writable images, each
// hostile event counted by kind on the disk it was aimed at and nothing
// else counted, and the log rate-limited through the flood of bad requests.
//
// blk_rw, blk_multiseg and blk_indirect hand the O_DIRECT disk buffers at
// odd addresses: the backend must bounce them (the interim synchronous
// backend does not, and fails them with EINVAL).
func TestTinyKernelBlkHostile(t *testing.T) {
	dir := t.TempDir()
	rw := newImage(t, dir, "rw.img", 32<<20, false)
	ro := newImage(t, dir, "ro.img", 16<<20, true)
	dio := newImage(t, dir, "dio.img", 32<<20, false)
	roSum := fileSum(t, ro)
	disks := []vmm.DiskConfig{
		{Path: rw, ID: "rw0"},
		{Path: ro, ReadOnly: true, ID: "ro0"},
		{Path: dio, Direct: true, ID: "dio0"},
	}
	warnings := captureWarnings(t)
	var stats map[string]*block.Stats
	start := time.Now()
	status, out, _ := bootTinyWith(t, tinyRun{cmdline: "test=blk,blk_hostile", cpus: 1, disks: disks,
		inspect: func(vm *vmm.VM) { stats = vm.DiskStats() }})
	elapsed := time.Since(start)
	defer func() {
		if t.Failed() {
			t.Logf("serial output:\n%s", out)
		}
	}()

	cases := strings.Split(guest.BlkCases+","+guest.BlkHostileCases, ",")
	lines := outputLines(out)
	for _, c := range cases {
		if !lines["PASS "+c] {
			t.Errorf("no PASS %s", c)
		}
	}
	for l := range lines {
		if strings.HasPrefix(l, "FAIL ") {
			t.Errorf("%s", l)
		}
	}
	if want := fmt.Sprintf("tiny: %d passed, 0 failed", len(cases)); !lines[want] || status != 0 {
		t.Errorf("exit status %d, want 0 and %q", status, want)
	}
	if devs := guest.SpecDeviations(out); len(devs) != 0 {
		t.Errorf("spec deviations: %q", devs)
	}

	for _, p := range []string{rw, dio} {
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := guest.CheckHostPattern(f); err != nil {
			t.Errorf("%s: %v", p, err)
		}
		f.Close()
	}
	if fileSum(t, ro) != roSum {
		t.Error("the read-only image changed")
	}

	if len(stats) != 3 {
		t.Fatalf("DiskStats has %d disks, want 3: %v", len(stats), slices.Collect(maps.Keys(stats)))
	}
	for id, want := range map[string]map[string]uint64{"rw0": kindNames(hostileKinds), "ro0": kindNames(roKinds), "dio0": {}} {
		if got := stats[id].Kinds(); !maps.Equal(got, want) {
			t.Errorf("disk %s counted guest errors\n%v\nwant\n%v", id, got, want)
		}
		if n := stats[id].BackendErrors.Load(); n != 0 {
			t.Errorf("disk %s: %d backend errors", id, n)
		}
	}
	if n := stats["rw0"].Count(block.ErrUnaligned); n < 1024 {
		t.Fatalf("the flood sent %d bad requests, want 1024 or more", n)
	}

	// The flood must not flood the log: a handful of lines a second.
	ts := warnings.byDisk("rw0")
	limit := logBurstLimit * (int(elapsed/time.Second) + 1)
	if len(ts) == 0 || len(ts) > limit {
		t.Errorf("%d warnings for disk rw0 in %v, want 1 to %d", len(ts), elapsed.Round(time.Millisecond), limit)
	}
	for i := range ts {
		j := i
		for j < len(ts) && ts[j].Sub(ts[i]) < time.Second {
			j++
		}
		if j-i > logBurstLimit {
			t.Errorf("%d warnings for disk rw0 within one second from %v, want at most %d", j-i, ts[i].Format(time.StampMilli), logBurstLimit)
			break
		}
	}
	t.Logf("%d guest errors on rw0 gave %d warning lines in %v", sum(stats["rw0"].Kinds()), len(ts), elapsed.Round(time.Millisecond))
}

func sum(m map[string]uint64) (n uint64) {
	for _, v := range m {
		n += v
	}
	return n
}

// TestTinyKernelBlkPerf runs blk_perf under vmm on an O_DIRECT image, as
// make bench does: every job must finish with its requests counted by the
// device and none failed. Its figures go to the log; no speed is checked.
func TestTinyKernelBlkPerf(t *testing.T) {
	img := newImage(t, t.TempDir(), "perf.img", guest.PerfDiskBytes, true)
	var stats map[string]*block.Stats
	status, out, _ := bootTinyWith(t, tinyRun{cmdline: "test=blk_perf", cpus: 1,
		disks:   []vmm.DiskConfig{{Path: img, Direct: true, ID: "perf0"}},
		inspect: func(vm *vmm.VM) { stats = vm.DiskStats() }})
	jobs := map[string]string{ // job: requests, as kernel/tests_blk.c's perf_jobs
		"randread 4k qd1": "2000", "randread 4k qd32": "4000", "randwrite 4k qd1": "2000",
		"randwrite 4k qd32": "4000", "seqread 1m qd8": "256", "seqwrite 1m qd8": "256",
	}
	for l := range strings.Lines(out) {
		l = strings.TrimSpace(l)
		if !strings.HasPrefix(l, "blk_perf: ") {
			continue
		}
		t.Log(l)
		name, rest, _ := strings.Cut(strings.TrimPrefix(l, "blk_perf: "), ": ")
		if n, ok := jobs[name]; ok && strings.HasPrefix(rest, n+" requests in ") {
			delete(jobs, name)
		}
	}
	if len(jobs) != 0 {
		t.Errorf("no result line for %v", slices.Sorted(maps.Keys(jobs)))
	}
	if !outputLines(out)["PASS blk_perf"] || status != 0 {
		t.Errorf("blk_perf did not pass (exit status %d)\nserial output:\n%s", status, out)
	}
	s := stats["perf0"]
	if s == nil {
		t.Fatalf("no stats for disk perf0: %v", slices.Collect(maps.Keys(stats)))
	}
	if n := s.BackendErrors.Load(); n != 0 {
		t.Errorf("%d backend errors", n)
	}
	if k := s.Kinds(); len(k) != 0 {
		t.Errorf("the device counted guest errors: %v", k)
	}
	const each = 2000 + 4000 + 256 // requests of each direction
	if r, w := s.Reads.Load(), s.Writes.Load(); r < each || w < each {
		t.Errorf("the device completed %d reads and %d writes, want at least %d of each", r, w, each)
	}
}
