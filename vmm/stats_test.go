package vmm

import (
	"strings"
	"testing"
)

// TestStatsAfterABlockRun runs the tiny kernel's read/write case on a
// disk and checks each family of counters against what must have
// happened: port writes for the console, MMIO for virtio, reads and
// writes on the disk, every console byte counted, and the timing marks in
// order.
func TestStatsAfterABlockRun(t *testing.T) {
	img := writeImage(t, "disk.img", 8<<20, func(i int) byte { return byte(i) })
	r := startTiny(t, "test=blk_rw", 1, []DiskConfig{{Path: img, ID: "data"}})
	res := r.result(t)
	if res.Status != 0 || res.Reason != ReasonTestExit || res.TestExitValue != 0 {
		t.Fatalf("result %+v\n%s", res, r.out.String())
	}
	s := r.vm.Stats()
	if s.Exits["exit_io_out"] == 0 || s.Exits["exit_mmio_write"] == 0 || s.Exits["exit_mmio_read"] == 0 {
		t.Errorf("exits %v: want port writes (console) and MMIO both ways (virtio registers)", s.Exits)
	}
	if len(s.Disks) != 1 {
		t.Fatalf("%d disks in stats", len(s.Disks))
	}
	d := s.Disks[0]
	if d.ID != "data" || d.Path != img || d.Reads == 0 || d.Writes == 0 || d.BytesRead == 0 || d.BytesWritten == 0 || d.IOErrors != 0 {
		t.Errorf("disk stats %+v", d)
	}
	if out := r.out.String(); s.SerialOut != uint64(len(out)) {
		t.Errorf("serial counted %d bytes out, the console got %d", s.SerialOut, len(out))
	}
	if !strings.Contains(r.out.String(), "PASS blk_rw") {
		t.Errorf("console:\n%s", r.out.String())
	}
	first, stopped := r.vm.FirstRun(), r.vm.StoppedAt()
	if first.IsZero() || stopped.IsZero() || stopped.Before(first) {
		t.Errorf("first KVM_RUN %v, stop %v: want both, in that order", first, stopped)
	}
	if _, ok := s.Repairs["int3"]; !ok {
		t.Errorf("repairs %v lack the int3 counter", s.Repairs)
	}
}
