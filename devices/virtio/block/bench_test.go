package block

import (
	"encoding/binary"
	"math/rand/v2"
	"os"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"vmm/devices/virtio"
	vt "vmm/devices/virtio/virtiotest"
	"vmm/guestmem"
)

// The device alone: a block device on a real file with its real backend,
// driven in-process by a driver that lays out requests in a guest-memory
// region exactly as a guest would, kicks through QueueNotify and sleeps on
// the irqfd. No VM, so the guest's CPU (slow on some KVM backends) is out
// of the picture and what is measured is the device.
//
// The image and the workloads are BenchmarkBackend's (BLK_BENCH_FILE,
// BLK_BENCH_SIZE; benchWorkloads), so scripts/bench-blk-backend.sh puts the
// device, the backend alone and fio side by side. VMM_BENCH_ENGINE=sync
// runs the device on the sync backend.

// benchRig is a device with preallocated request slots on the driver side,
// so the driver allocates nothing per request either.
type benchRig struct {
	mem      *guestmem.Memory
	dev      *Device
	drv      *vt.Driver
	q        *vt.Queue
	irqfd    int
	slots    []benchSlot
	free     []int
	lastUsed uint16
}

type benchSlot struct {
	head   uint16
	hdr    []byte
	descs  int
	status []byte
}

func newBenchRig(b *testing.B, qd int, reqBytes int, write bool) (*benchRig, int64) {
	f, size := backendBenchFile(b) // opened O_DIRECT
	b.Cleanup(func() { f.Close() })
	direct := true
	mem, err := guestmem.New([]guestmem.Range{{GPA: 0, Size: 256 << 20}})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(mem.Close)
	kick, _ := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	irqfd, _ := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	be := newBenchBackend(b, f, kick, direct)
	dev, err := New(Config{ID: "bench", Capacity: uint64(size) / SectorSize, BlockSize: SectorSize, Flush: true, Backends: []Backend{be}})
	if err != nil {
		b.Fatal(err)
	}
	tr, err := virtio.NewTransport(mem, dev, virtio.NewInterrupt(irqfd), []int{kick}, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { dev.Close(); unix.Close(kick); unix.Close(irqfd) })
	r := &benchRig{mem: mem, dev: dev, irqfd: irqfd, drv: vt.New(tr, mem, 1<<20, 256<<20)}
	r.drv.Negotiate(dev.Features())
	r.q = r.drv.SetupQueue(0, QueueSize, true)
	r.drv.Start()
	segs := (reqBytes + MaxSegmentSize - 1) / MaxSegmentSize
	if qd*(segs+2) > QueueSize {
		b.Fatalf("QD %d of %d-segment requests does not fit a queue of %d", qd, segs, QueueSize)
	}
	for i := 0; i < qd; i++ {
		s := benchSlot{head: uint16(i * (segs + 2)), descs: segs + 2}
		hdrAddr := r.drv.Alloc(16, 16)
		s.hdr, _ = mem.Slice(hdrAddr, 16)
		typ := uint32(TypeIn)
		if write {
			typ = TypeOut
		}
		binary.LittleEndian.PutUint32(s.hdr, typ)
		data := r.drv.Alloc(uint64(reqBytes), 4096)
		st := r.drv.Alloc(1, 1)
		s.status, _ = mem.Slice(st, 1)
		r.q.WriteDesc(s.head, vt.Desc{Addr: hdrAddr, Len: 16, Flags: vt.DescNext, Next: s.head + 1})
		for j := 0; j < segs; j++ {
			n := min(MaxSegmentSize, reqBytes-j*MaxSegmentSize)
			flags := uint16(vt.DescNext)
			if !write {
				flags |= vt.DescWrite
			}
			r.q.WriteDesc(s.head+1+uint16(j), vt.Desc{Addr: data + uint64(j*MaxSegmentSize), Len: uint32(n), Flags: flags, Next: s.head + 2 + uint16(j)})
		}
		r.q.WriteDesc(s.head+1+uint16(segs), vt.Desc{Addr: st, Len: 1, Flags: vt.DescWrite})
		r.slots = append(r.slots, s)
		r.free = append(r.free, i)
	}
	return r, size
}

// newBenchBackend is the backend the device runs on: io_uring, or sync
// with VMM_BENCH_ENGINE=sync.
var newBenchBackend = func(b *testing.B, f *os.File, kick int, direct bool) Backend {
	be, _, err := NewBackend(os.Getenv("VMM_BENCH_ENGINE"), f, kick, Options{Direct: direct, QueueSize: QueueSize})
	if err != nil {
		b.Fatal(err)
	}
	return be
}

// run keeps qd requests in flight until n have completed; next picks each
// request's sector.
func (r *benchRig) run(b *testing.B, n int, next func() uint64) {
	slotOf := make([]int, QueueSize)
	for i, s := range r.slots {
		slotOf[s.head] = i
	}
	submitted, completed := 0, 0
	var efd [8]byte
	fds := []unix.PollFd{{Fd: int32(r.irqfd), Events: unix.POLLIN}}
	for completed < n {
		old := r.q.AvailIdx
		for len(r.free) > 0 && submitted < n {
			i := r.free[len(r.free)-1]
			r.free = r.free[:len(r.free)-1]
			s := &r.slots[i]
			binary.LittleEndian.PutUint64(s.hdr[8:], next())
			r.q.Publish(s.head)
			submitted++
		}
		if r.q.AvailIdx != old && r.q.NeedsKick(old) {
			r.q.Kick()
		}
		progressed := false
		for {
			used := r.q.UsedIdx()
			if used == r.lastUsed {
				break
			}
			e, _ := r.mem.Slice(r.q.Used+4+8*uint64(r.lastUsed%QueueSize), 8)
			head := binary.LittleEndian.Uint32(e)
			s := &r.slots[slotOf[head]]
			if s.status[0] != StatusOK {
				b.Fatalf("request failed with status %d", s.status[0])
			}
			r.free = append(r.free, slotOf[head])
			r.lastUsed++
			completed++
			progressed = true
		}
		if !progressed && completed < n {
			// Sleep until the device interrupts, as a guest would: ask for an
			// interrupt at the next completion, then re-check before sleeping.
			r.q.SetUsedEvent(r.lastUsed)
			if r.q.UsedIdx() != r.lastUsed {
				continue
			}
			_, _ = unix.Ppoll(fds, nil, nil) // no timeout: unix.Poll allocates one per call
			_, _ = unix.Read(r.irqfd, efd[:])
		}
	}
}

func BenchmarkDevice(b *testing.B) {
	for _, w := range benchWorkloads {
		b.Run(w.name, func(b *testing.B) {
			r, size := newBenchRig(b, w.qd, int(w.bs), w.typ == TypeOut)
			sectors := uint64(size / SectorSize)
			step := uint64(w.bs / SectorSize)
			var pos uint64
			next := func() uint64 {
				if !w.rand {
					s := pos
					pos = (pos + step) % (sectors - step)
					return s
				}
				return rand.Uint64N((sectors-step)/step) * step
			}
			r.run(b, min(b.N, 64), next) // warm up
			var ru0, ru1 unix.Rusage
			_ = unix.Getrusage(unix.RUSAGE_SELF, &ru0)
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			r.run(b, b.N, next)
			el := time.Since(start)
			b.StopTimer()
			_ = unix.Getrusage(unix.RUSAGE_SELF, &ru1)
			cpu := ru1.Utime.Nano() + ru1.Stime.Nano() - ru0.Utime.Nano() - ru0.Stime.Nano()
			b.ReportMetric(float64(b.N)/el.Seconds(), "IOPS")
			b.ReportMetric(float64(b.N)*float64(w.bs)/el.Seconds()/1e6, "MB/s")
			b.ReportMetric(float64(cpu)/float64(b.N), "cpu-ns/op")
		})
	}
}
