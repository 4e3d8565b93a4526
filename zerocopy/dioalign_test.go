//go:build linux

package zerocopy

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func isPow2(n uint32) bool { return n != 0 && n&(n-1) == 0 }

// TestDIOAlignmentTempFile checks the reported alignment on a real file and
// then proves it by doing O_DIRECT I/O at exactly that alignment.
func TestDIOAlignmentTempFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "disk")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	mem, off, err := DIOAlignment(f)
	if errors.Is(err, ErrNoDirectIO) {
		t.Skipf("filesystem of %s has no O_DIRECT: %v", path, err)
	}
	if err != nil {
		t.Fatal(err)
	}
	if !isPow2(mem) || !isPow2(off) || mem > 4096 || off > 4096 {
		t.Fatalf("DIOAlignment = mem %d, offset %d: want powers of two up to 4096", mem, off)
	}
	t.Logf("%s: memAlign %d, offsetAlign %d", path, mem, off)

	// Same answer through the raw descriptor.
	rc, _ := f.SyscallConn()
	rc.Control(func(fd uintptr) {
		m2, o2, err := DIOAlignmentFD(int(fd))
		if err != nil || m2 != mem || o2 != off {
			t.Errorf("DIOAlignmentFD = %d, %d, %v; want %d, %d", m2, o2, err, mem, off)
		}
	})

	want := bytes.Repeat([]byte("dio!"), 2*int(off)/4)
	if _, err := f.Write(want); err != nil {
		t.Fatal(err)
	}
	df, err := os.OpenFile(path, os.O_RDONLY|unix.O_DIRECT, 0)
	if err != nil {
		t.Fatalf("open O_DIRECT: %v", err)
	}
	defer df.Close()
	align := max(int(mem), MinAlign)
	p := newPool(t, Config{Count: 1, Size: roundUp(int(off), align), Align: align})
	h, _ := p.Acquire()
	defer p.Release(h)
	b, _ := p.Bytes(h)
	n, err := unix.Pread(int(df.Fd()), b[:off], int64(off))
	if err != nil || n != int(off) {
		t.Fatalf("O_DIRECT pread of %d bytes at offset %d into a %d-aligned buffer: n=%d, %v", off, off, align, n, err)
	}
	if !bytes.Equal(b[:off], want[off:]) {
		t.Fatal("O_DIRECT read returned wrong data")
	}
}

// TestDIOAlignmentBlockDevice probes the machine's disk when there is one:
// the offset alignment must be the device's logical block size. A device
// cgroup may forbid opening it; statx through an O_PATH descriptor needs no
// device open, so the statx path is still checked.
func TestDIOAlignmentBlockDevice(t *testing.T) {
	const dev = "/dev/vda"
	if _, err := os.Stat(dev); err != nil {
		t.Skipf("no %s on this machine: %v", dev, err)
	}
	raw, err := os.ReadFile("/sys/block/vda/queue/logical_block_size")
	if err != nil {
		t.Fatal(err)
	}
	lbs, err := strconv.Atoi(strings.TrimSpace(string(raw)))
	if err != nil {
		t.Fatal(err)
	}
	fd, err := unix.Open(dev, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Logf("open %s: %v; using an O_PATH descriptor (statx only, BLKSSZGET fallback covered by the loop test)", dev, err)
		if fd, err = unix.Open(dev, unix.O_PATH|unix.O_CLOEXEC, 0); err != nil {
			t.Fatal(err)
		}
	}
	defer unix.Close(fd)
	mem, off, err := DIOAlignmentFD(fd)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s: memAlign %d, offsetAlign %d, logical block size %d", dev, mem, off, lbs)
	if int(off) != lbs || !isPow2(mem) || int(mem) > lbs {
		t.Fatalf("DIOAlignment(%s) = mem %d, offset %d; want offset %d and mem a power of two <= it", dev, mem, off, lbs)
	}
}

// TestDIOAlignmentLoop4K attaches a loop device with a 4096-byte logical
// block size, so the non-512 case and the BLKSSZGET fallback run on a real
// block device.
func TestDIOAlignmentLoop4K(t *testing.T) {
	ctl, err := unix.Open("/dev/loop-control", unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Skipf("no loop devices here (need root and /dev/loop-control): %v", err)
	}
	defer unix.Close(ctl)
	backing, err := os.Create(filepath.Join(t.TempDir(), "loop.img"))
	if err != nil {
		t.Fatal(err)
	}
	defer backing.Close()
	if err := backing.Truncate(1 << 20); err != nil {
		t.Fatal(err)
	}
	var dev int
	for attempt := 0; ; attempt++ {
		n, err := unix.IoctlRetInt(ctl, unix.LOOP_CTL_GET_FREE)
		if err != nil {
			t.Skipf("LOOP_CTL_GET_FREE: %v", err)
		}
		path := "/dev/loop" + strconv.Itoa(n)
		dev, err = unix.Open(path, unix.O_RDWR|unix.O_CLOEXEC, 0)
		if err != nil {
			t.Skipf("open %s: %v", path, err)
		}
		cfg := unix.LoopConfig{Fd: uint32(backing.Fd()), Size: 4096}
		cfg.Info.Flags = unix.LO_FLAGS_AUTOCLEAR
		err = unix.IoctlLoopConfigure(dev, &cfg)
		if err == nil {
			t.Logf("attached %s (4096-byte blocks)", path)
			break
		}
		unix.Close(dev)
		if !errors.Is(err, unix.EBUSY) || attempt == 5 {
			t.Fatalf("LOOP_CONFIGURE %s: %v", path, err)
		}
	}
	defer func() {
		unix.IoctlSetInt(dev, unix.LOOP_CLR_FD, 0)
		unix.Close(dev)
	}()
	mem, off, err := DIOAlignmentFD(dev)
	if err != nil {
		t.Fatal(err)
	}
	if off != 4096 || !isPow2(mem) || mem > 4096 {
		t.Fatalf("DIOAlignment(loop, 4K blocks) = mem %d, offset %d; want offset 4096", mem, off)
	}
	m, o, err := fallbackAlignment(dev, unix.S_IFBLK)
	if err != nil || m != 4096 || o != 4096 {
		t.Fatalf("BLKSSZGET fallback on 4K loop = %d, %d, %v; want 4096, 4096", m, o, err)
	}
}

func TestDIOAlignmentFallbacks(t *testing.T) {
	m, o, err := fallbackAlignment(-1, unix.S_IFREG)
	if err != nil || m != FallbackAlign || o != FallbackAlign {
		t.Fatalf("regular-file fallback = %d, %d, %v; want %d", m, o, err, FallbackAlign)
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	if _, _, err := DIOAlignment(r); err == nil || !strings.Contains(err.Error(), "neither a regular file nor a block device") {
		t.Fatalf("DIOAlignment(pipe) = %v, want a not-a-file error", err)
	}
	// A regular file's fd is not a block device: BLKSSZGET must fail cleanly.
	f, err := os.Create(filepath.Join(t.TempDir(), "x"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, _, err := fallbackAlignment(int(f.Fd()), unix.S_IFBLK); err == nil || !strings.Contains(err.Error(), "BLKSSZGET") {
		t.Fatalf("BLKSSZGET on a regular file = %v, want an ioctl error", err)
	}
	if _, _, err := DIOAlignmentFD(-1); !errors.Is(err, unix.EBADF) {
		t.Fatalf("DIOAlignmentFD(-1) = %v, want EBADF", err)
	}
}
