package vmm

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestUpdateDiskWhileTheGuestWaits: the tiny kernel's blk_resize case waits
// for a configuration-change interrupt; UpdateDisk swaps a 1 MiB image of
// 'A' for a 2 MiB one of 'B' ending in a sector of 'C'. The guest must see
// the interrupt, the new capacity, and the new image's data.
func TestUpdateDiskWhileTheGuestWaits(t *testing.T) {
	a := writeImage(t, "a.img", 1<<20, func(int) byte { return 'A' })
	b := writeImage(t, "b.img", 2<<20, func(i int) byte {
		if i >= 2<<20-512 {
			return 'C'
		}
		return 'B'
	})
	r := startTiny(t, "test=blk_resize", 1, []DiskConfig{{Path: a, ID: "root"}})
	r.waitFor(t, "waiting for a configuration change")
	if err := r.vm.UpdateDisk(0, b); err != nil {
		t.Fatal(err)
	}
	res := r.result(t)
	out := r.out.String()
	if res.Status != 0 || !strings.Contains(out, "PASS blk_resize") ||
		!strings.Contains(out, "blk_resize: 2048 -> 4096 sectors") ||
		!strings.Contains(out, "first sector begins 42 42 42 42, last sector begins 43 43 43 43") {
		t.Fatalf("result %+v\n%s", res, out)
	}
	d := r.vm.Stats().Disks[0]
	if d.Path != b || d.Updates != 1 || d.UpdateFails != 0 {
		t.Errorf("disk stats after the update: %+v", d)
	}
}

// TestUpdateDiskRefusals: a bad path, a disk that does not exist and a
// closed VM fail with a reason and leave the disk as it was; the same
// path re-reads a grown image.
func TestUpdateDiskRefusals(t *testing.T) {
	a := writeImage(t, "a.img", 1<<20, func(int) byte { return 'A' })
	vm := newTestVM(t, haltForever, func(c *Config) { c.Disks = []DiskConfig{{Path: a, ID: "root"}} })
	defer vm.Close()
	if err := vm.UpdateDisk(0, filepath.Join(t.TempDir(), "missing.img")); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("missing image: %v", err)
	}
	if err := vm.UpdateDisk(3, a); err == nil || !strings.Contains(err.Error(), "no disk 3") {
		t.Errorf("disk 3 of 1: %v", err)
	}
	if err := os.Truncate(a, 3<<20); err != nil {
		t.Fatal(err)
	}
	if err := vm.UpdateDisk(0, a); err != nil {
		t.Fatalf("same image, grown: %v", err)
	}
	d := vm.Stats().Disks[0]
	if d.Path != a || d.Updates != 1 || d.UpdateFails != 1 {
		t.Errorf("stats %+v: want 1 update and the 1 failure for the missing image (disk 3 was never a disk)", d)
	}
	if vm.attached[0].img.size != 3<<20 {
		t.Errorf("size after re-reading the same image: %d", vm.attached[0].img.size)
	}
	vm.Close()
	if err := vm.UpdateDisk(0, a); err != errDisksClosed {
		t.Errorf("after Close: %v", err)
	}
}
