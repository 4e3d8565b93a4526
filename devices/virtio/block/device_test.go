package block

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"vmm/devices/virtio"
	vt "vmm/devices/virtio/virtiotest"
	"vmm/guestmem"
)

// rig is a block device on a real file, behind a real transport, driven
// by the Go test driver: everything but the vCPU.
type rig struct {
	t      testing.TB
	mem    *guestmem.Memory
	file   *os.File
	dev    *Device
	tr     *virtio.Transport
	drv    *vt.Driver
	q      *vt.Queue
	kick   int
	irqfd  int
	status uint64 // guest address of a status byte area
}

type rigOptions struct {
	readOnly bool
	noFlush  bool
	unsafe   bool
	features uint64 // driver's wish; 0 = everything offered
	size     int64
}

// newRig builds the device over a fresh image file of opts.size bytes
// (default 4 MiB) filled with a known pattern.
func newRig(t testing.TB, opts rigOptions) *rig {
	t.Helper()
	if opts.size == 0 {
		opts.size = 4 << 20
	}
	mem, err := guestmem.New([]guestmem.Range{{GPA: 0, Size: 64 << 20}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(mem.Close)
	path := filepath.Join(t.TempDir(), "disk.img")
	img := make([]byte, opts.size)
	for i := range img {
		img[i] = byte(i*7 + i>>9)
	}
	if err := os.WriteFile(path, img, 0o600); err != nil {
		t.Fatal(err)
	}
	flags := os.O_RDWR
	if opts.readOnly {
		flags = os.O_RDONLY
	}
	f, err := os.OpenFile(path, flags, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	kick, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		t.Fatal(err)
	}
	irqfd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		t.Fatal(err)
	}
	r := &rig{t: t, mem: mem, file: f, kick: kick, irqfd: irqfd}
	be := newTestBackend(t, f, kick)
	r.dev, err = New(Config{ID: "test-disk", ReadOnly: opts.readOnly, Capacity: uint64(opts.size) / SectorSize,
		BlockSize: SectorSize, Flush: !opts.noFlush, Unsafe: opts.unsafe, Backends: []Backend{be}})
	if err != nil {
		t.Fatal(err)
	}
	// Wired as vmm/devicemgr.go wires it: the device counts what the transport finds.
	r.tr, err = virtio.NewTransport(mem, r.dev, virtio.NewInterrupt(irqfd), []int{kick}, r.dev.TransportViolation)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		r.dev.Close()
		unix.Close(kick)
		unix.Close(irqfd)
	})
	r.drv = vt.New(r.tr, mem, 1<<20, 64<<20)
	want := opts.features
	if want == 0 {
		want = r.dev.Features()
	}
	if _, ok := r.drv.Negotiate(want); !ok {
		t.Fatal("FEATURES_OK refused")
	}
	r.q = r.drv.SetupQueue(0, QueueSize, want&virtio.FeatureEventIdx != 0)
	if st := r.drv.Start(); st&virtio.StatusDeviceNeedsReset != 0 {
		t.Fatalf("status %#x", st)
	}
	r.status = r.drv.Alloc(QueueSize, 8)
	return r
}

// newTestBackend is the backend device tests run on.
var newTestBackend = func(t testing.TB, f *os.File, kick int) Backend {
	b, err := NewUring(f, kick, Options{QueueSize: QueueSize})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestDeviceOnSyncBackend runs the device tests again on the sync backend,
// the fallback where io_uring is unavailable.
func TestDeviceOnSyncBackend(t *testing.T) {
	orig := newTestBackend
	newTestBackend = func(t testing.TB, f *os.File, kick int) Backend {
		b, err := NewSync(f, kick, Options{QueueSize: QueueSize})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	defer func() { newTestBackend = orig }()
	for name, test := range map[string]func(*testing.T){
		"ReadWrite": TestDeviceReadWrite, "GetIDFlushDiscardZeroes": TestDeviceGetIDFlushDiscardZeroes,
		"RefusesBadRequests": TestDeviceRefusesBadRequests, "ReadOnly": TestDeviceReadOnly,
		"ViolationNeedsReset": TestDeviceViolationNeedsReset, "WritesThroughWithoutFlush": TestDeviceWritesThroughWithoutFlush,
	} {
		t.Run(name, test)
	}
}

// request builds the header + data + status chain for one request and
// submits it; it returns the head and the status byte's address.
func (r *rig) request(typ uint32, sector uint64, data []vt.Buf) (uint16, uint64) {
	hdr := r.drv.Alloc(16, 8)
	h, _ := r.mem.Slice(hdr, 16)
	binary.LittleEndian.PutUint32(h[0:], typ)
	binary.LittleEndian.PutUint64(h[8:], sector)
	st := r.drv.Alloc(1, 1)
	bufs := append([]vt.Buf{{Addr: hdr, Len: 16}}, data...)
	bufs = append(bufs, vt.Buf{Addr: st, Len: 1, Write: true})
	head, ok := r.q.Add(bufs)
	if !ok {
		r.t.Fatal("queue full")
	}
	r.q.Kick()
	return head, st
}

// wait waits for head's completion and returns its status byte and used length.
func (r *rig) wait(head uint16, st uint64) (uint8, uint32) {
	r.t.Helper()
	id, n, err := r.q.WaitUsed(10 * time.Second)
	if err != nil {
		r.t.Fatal(err)
	}
	if id != uint32(head) {
		r.t.Fatalf("completion for head %d, want %d", id, head)
	}
	b, _ := r.mem.Slice(st, 1)
	return b[0], n
}

func (r *rig) fileAt(off, n int64) []byte {
	b := make([]byte, n)
	if _, err := r.file.ReadAt(b, off); err != nil {
		r.t.Fatal(err)
	}
	return b
}

func TestDeviceReadWrite(t *testing.T) {
	r := newRig(t, rigOptions{})
	// Read 8 KiB at sector 16 in two segments.
	buf := r.drv.Alloc(8192, 512)
	head, st := r.request(TypeIn, 16, []vt.Buf{{Addr: buf, Len: 4096, Write: true}, {Addr: buf + 4096, Len: 4096, Write: true}})
	if s, n := r.wait(head, st); s != StatusOK || n != 8193 {
		t.Fatalf("read: status %d len %d", s, n)
	}
	got, _ := r.mem.Slice(buf, 8192)
	if !bytes.Equal(got, r.fileAt(16*512, 8192)) {
		t.Fatal("read data differs from the file")
	}
	// Write 1 KiB from odd-sized segments at sector 3.
	src := r.drv.Alloc(1024, 8)
	b, _ := r.mem.Slice(src, 1024)
	for i := range b {
		b[i] = byte(0xa0 ^ i)
	}
	head, st = r.request(TypeOut, 3, []vt.Buf{{Addr: src, Len: 24}, {Addr: src + 24, Len: 1000}})
	if s, n := r.wait(head, st); s != StatusOK || n != 1 {
		t.Fatalf("write: status %d len %d", s, n)
	}
	if !bytes.Equal(r.fileAt(3*512, 1024), b) {
		t.Fatal("the file does not hold what was written")
	}
	if r.dev.Stats().Reads.Load() != 1 || r.dev.Stats().BytesWritten.Load() != 1024 {
		t.Fatalf("stats: %d reads, %d bytes written", r.dev.Stats().Reads.Load(), r.dev.Stats().BytesWritten.Load())
	}
}

func TestDeviceGetIDFlushDiscardZeroes(t *testing.T) {
	r := newRig(t, rigOptions{})
	id := r.drv.Alloc(20, 8)
	head, st := r.request(TypeGetID, 0, []vt.Buf{{Addr: id, Len: 20, Write: true}})
	if s, n := r.wait(head, st); s != StatusOK || n != 21 {
		t.Fatalf("get id: status %d len %d", s, n)
	}
	got, _ := r.mem.Slice(id, 20)
	if string(got) != "test-disk"+string(make([]byte, 11)) {
		t.Fatalf("id %q: want NUL-padded test-disk", got)
	}
	head, st = r.request(TypeFlush, 0, nil)
	if s, _ := r.wait(head, st); s != StatusOK {
		t.Fatalf("flush: status %d", s)
	}
	rng := r.drv.Alloc(16, 8)
	rb, _ := r.mem.Slice(rng, 16)
	binary.LittleEndian.PutUint64(rb[0:], 64)
	binary.LittleEndian.PutUint32(rb[8:], 8)
	head, st = r.request(TypeWriteZeroes, 0, []vt.Buf{{Addr: rng, Len: 16}})
	if s, _ := r.wait(head, st); s != StatusOK {
		t.Fatalf("write zeroes: status %d", s)
	}
	if !bytes.Equal(r.fileAt(64*512, 4096), make([]byte, 4096)) {
		t.Fatal("write zeroes left data behind")
	}
	if i := 72 * 512; r.fileAt(int64(i), 1)[0] != byte(i*7+i>>9) {
		t.Fatal("write zeroes went past its range")
	}
	binary.LittleEndian.PutUint64(rb[0:], 128)
	head, st = r.request(TypeDiscard, 0, []vt.Buf{{Addr: rng, Len: 16}})
	if s, _ := r.wait(head, st); s != StatusOK {
		t.Fatalf("discard: status %d", s)
	}
}

func TestDeviceRefusesBadRequests(t *testing.T) {
	r := newRig(t, rigOptions{})
	buf := r.drv.Alloc(4096, 512)
	for _, c := range []struct {
		name   string
		typ    uint32
		sector uint64
		data   []vt.Buf
		want   uint8
		err    error
	}{
		{"past capacity", TypeIn, 8191, []vt.Buf{{Addr: buf, Len: 1024, Write: true}}, StatusIOErr, ErrBeyondCapacity},
		{"odd length", TypeOut, 0, []vt.Buf{{Addr: buf, Len: 100}}, StatusIOErr, ErrUnaligned},
		{"wrong direction", TypeIn, 0, []vt.Buf{{Addr: buf, Len: 512}}, StatusIOErr, ErrDirection},
		{"unknown type", 77, 0, nil, StatusUnsupp, ErrUnsupported},
	} {
		before := r.fileAt(0, 4096)
		head, st := r.request(c.typ, c.sector, c.data)
		if s, n := r.wait(head, st); s != c.want || n != 1 {
			t.Errorf("%s: status %d len %d, want %d and 1", c.name, s, n, c.want)
		}
		if r.dev.Stats().Count(c.err) == 0 {
			t.Errorf("%s: not counted as %v", c.name, c.err)
		}
		if !bytes.Equal(before, r.fileAt(0, 4096)) {
			t.Errorf("%s: the file changed", c.name)
		}
	}
	if r.drv.Reg(vt.RegStatus)&vt.StatusNeedsReset != 0 {
		t.Fatal("bad requests must not need a reset")
	}
}

func TestDeviceReadOnly(t *testing.T) {
	r := newRig(t, rigOptions{readOnly: true})
	if r.dev.Features()&FeatureRO == 0 || r.dev.Features()&FeatureDiscard != 0 {
		t.Fatalf("features %#x", r.dev.Features())
	}
	buf := r.drv.Alloc(512, 512)
	head, st := r.request(TypeOut, 0, []vt.Buf{{Addr: buf, Len: 512}})
	if s, _ := r.wait(head, st); s != StatusIOErr {
		t.Fatalf("write to a read-only disk: status %d", s)
	}
}

// TestDeviceViolationNeedsReset: a protocol violation stops the queue with
// DEVICE_NEEDS_RESET; after the driver resets, the device serves again.
func TestDeviceViolationNeedsReset(t *testing.T) {
	r := newRig(t, rigOptions{})
	r.q.WriteDesc(0, vt.Desc{Addr: 0x100000, Len: 16, Flags: vt.DescNext, Next: 0}) // a loop
	r.q.Publish(0)
	r.q.Kick()
	deadline := time.Now().Add(10 * time.Second)
	for r.drv.Reg(vt.RegStatus)&vt.StatusNeedsReset == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no NEEDS_RESET after a descriptor loop")
		}
		time.Sleep(100 * time.Microsecond)
	}
	if r.drv.Reg(vt.RegInterruptStat)&virtio.InterruptConfigChanged == 0 {
		t.Fatal("no configuration-change interrupt")
	}
	if r.dev.Stats().Count(virtio.ErrChainTooLong) != 1 {
		t.Fatalf("kinds %v", r.dev.Stats().Kinds())
	}
	if err := r.drv.Reset(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	r.drv.Negotiate(r.dev.Features())
	r.q = r.drv.SetupQueue(0, QueueSize, true)
	r.drv.Start()
	buf := r.drv.Alloc(512, 512)
	head, st := r.request(TypeIn, 0, []vt.Buf{{Addr: buf, Len: 512, Write: true}})
	if s, _ := r.wait(head, st); s != StatusOK {
		t.Fatalf("after reset: status %d", s)
	}
}

// TestDeviceCountsTransportViolations: a violation the transport finds in
// a register write is counted by kind like the worker's own, and one the
// worker finds is counted once, not again when the transport hears of it.
func TestDeviceCountsTransportViolations(t *testing.T) {
	r := newRig(t, rigOptions{})
	r.drv.SetReg(vt.RegQueueSel, 0)
	r.drv.SetReg(vt.RegQueueNum, 8) // after DRIVER_OK
	if r.drv.Reg(vt.RegStatus)&vt.StatusNeedsReset == 0 {
		t.Fatal("no NEEDS_RESET after QueueNum written on a live device")
	}
	if n := r.dev.Stats().Count(virtio.ErrLiveQueueWrite); n != 1 {
		t.Fatalf("live queue write counted %d times; kinds %v", n, r.dev.Stats().Kinds())
	}
	if err := r.drv.Reset(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	r.drv.SetReg(vt.RegStatus, vt.StatusAcknowledge)
	r.drv.SetReg(vt.RegStatus, vt.StatusAcknowledge|vt.StatusDriver|vt.StatusDriverOK) // no FEATURES_OK
	if n := r.dev.Stats().Count(virtio.ErrDriverOKEarly); n != 1 {
		t.Fatalf("DRIVER_OK without FEATURES_OK counted %d times; kinds %v", n, r.dev.Stats().Kinds())
	}
	if err := r.drv.Reset(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	r.drv.Negotiate(r.dev.Features())
	r.q = r.drv.SetupQueue(0, QueueSize, true)
	r.drv.Start()
	r.q.Publish(QueueSize) // a head out of range: the worker finds it
	r.q.Kick()
	deadline := time.Now().Add(10 * time.Second)
	for r.drv.Reg(vt.RegStatus)&vt.StatusNeedsReset == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no NEEDS_RESET after a head out of range")
		}
		time.Sleep(100 * time.Microsecond)
	}
	if n := r.dev.Stats().Count(virtio.ErrHeadIndex); n != 1 {
		t.Fatalf("head out of range counted %d times; kinds %v", n, r.dev.Stats().Kinds())
	}
}

// TestDeviceWritesThroughWithoutFlush: a driver that did not negotiate
// FLUSH gets every write marked durable.
func TestDeviceWritesThroughWithoutFlush(t *testing.T) {
	rec := &recordingBackend{}
	orig := newTestBackend
	newTestBackend = func(t testing.TB, f *os.File, kick int) Backend {
		rec.Backend = orig(t, f, kick)
		return rec
	}
	defer func() { newTestBackend = orig }()
	r := newRig(t, rigOptions{features: virtio.FeatureVersion1 | virtio.FeatureEventIdx})
	buf := r.drv.Alloc(512, 512)
	head, st := r.request(TypeOut, 0, []vt.Buf{{Addr: buf, Len: 512}})
	if s, _ := r.wait(head, st); s != StatusOK {
		t.Fatalf("status %d", s)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.durable) != 1 || !rec.durable[0] {
		t.Fatalf("durable flags %v: without FLUSH every write must be durable", rec.durable)
	}
}

// TestDeviceUnsafeNeitherFlushesNorWritesThrough: an Unsafe disk (cache_type
// Unsafe) offers no FLUSH, and its writes are not durable either.
func TestDeviceUnsafeNeitherFlushesNorWritesThrough(t *testing.T) {
	rec := &recordingBackend{}
	orig := newTestBackend
	newTestBackend = func(t testing.TB, f *os.File, kick int) Backend {
		rec.Backend = orig(t, f, kick)
		return rec
	}
	defer func() { newTestBackend = orig }()
	r := newRig(t, rigOptions{unsafe: true})
	if r.dev.Features()&FeatureFlush != 0 {
		t.Fatalf("features %#x offer FLUSH on an Unsafe disk", r.dev.Features())
	}
	buf := r.drv.Alloc(512, 512)
	head, st := r.request(TypeOut, 0, []vt.Buf{{Addr: buf, Len: 512}})
	if s, _ := r.wait(head, st); s != StatusOK {
		t.Fatalf("status %d", s)
	}
	head, st = r.request(TypeFlush, 0, nil)
	if s, _ := r.wait(head, st); s != StatusUnsupp {
		t.Fatalf("flush on an Unsafe disk: status %d, want UNSUPP", s)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.durable) != 1 || rec.durable[0] {
		t.Fatalf("durable flags %v: an Unsafe disk must not write through", rec.durable)
	}
}

type recordingBackend struct {
	Backend
	mu      sync.Mutex
	durable []bool
}

func (b *recordingBackend) Start(tag uint64, r *Request) error {
	if r.Type == TypeOut {
		b.mu.Lock()
		b.durable = append(b.durable, r.Durable)
		b.mu.Unlock()
	}
	return b.Backend.Start(tag, r)
}
