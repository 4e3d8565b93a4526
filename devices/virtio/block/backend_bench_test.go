package block

import (
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"

	"golang.org/x/sys/unix"

	"vmm/guestmem"
	"vmm/iouring"
	"vmm/zerocopy"
)

// The hot path allocates nothing: Start, Submit and Wait for reads,
// writes, flushes and discards, straight or bounced.
func TestNoAllocationsPerRequest(t *testing.T) {
	for _, direct := range []bool{false, true} {
		name := map[bool]string{false: "buffered", true: "direct"}[direct]
		t.Run(name, func(t *testing.T) {
			forEachBackend(t, func(t *testing.T, k backendKind) {
				e := newTestEnv(t, k, envConfig{direct: direct})
				reqs := []*Request{
					rw(TypeIn, 0, e.segs(4096, 0, 4096, 4096)),
					rw(TypeOut, 1<<20, e.segs(4096, 0, 4096)),
					{Type: TypeFlush},
					{Type: TypeDiscard, Offset: 2 << 20, Len: 4096},
					rw(TypeIn, 3<<20, e.segs(4096, 8, 4096)), // bounced when direct
				}
				done := make([]Completion, 0, len(reqs))
				allocs := testing.AllocsPerRun(50, func() {
					for i, r := range reqs {
						if err := e.b.Start(uint64(i), r); err != nil {
							t.Fatal(err)
						}
					}
					if err := e.b.Submit(); err != nil {
						t.Fatal(err)
					}
					for n := 0; n < len(reqs); {
						got, _, err := e.b.Wait(done[:0], true)
						if err != nil {
							t.Fatal(err)
						}
						for _, c := range got {
							if c.Result < 0 {
								t.Fatalf("tag %d: %v", c.Tag, resultErr(c.Result))
							}
						}
						n += len(got)
					}
				})
				if allocs != 0 {
					t.Errorf("%.1f allocations per round of %d requests, want 0", allocs, len(reqs))
				}
			})
		})
	}
}

// backendBenchFile returns an O_DIRECT descriptor on a fully written (not sparse)
// file for the benchmarks: $BLK_BENCH_FILE, default
// /var/tmp/vmm-blk-bench.dat, of $BLK_BENCH_SIZE bytes (default 1 GiB),
// created once and reused. scripts/bench-blk-backend.sh runs fio on the
// same file.
func backendBenchFile(b *testing.B) (*os.File, int64) {
	size := int64(1 << 30)
	if s := os.Getenv("BLK_BENCH_SIZE"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 64<<20 {
			b.Fatalf("BLK_BENCH_SIZE=%q: want a byte count of at least 64 MiB", s)
		}
		size = n
	}
	path := os.Getenv("BLK_BENCH_FILE")
	if path == "" {
		path = filepath.Join("/var/tmp", "vmm-blk-bench.dat")
	}
	if st, err := os.Stat(path); err != nil || st.Size() < size {
		w, err := os.Create(path)
		if err != nil {
			b.Fatalf("create bench file: %v", err)
		}
		chunk := pattern(0, 1<<20)
		for off := int64(0); off < size; off += int64(len(chunk)) {
			if _, err := w.Write(chunk); err != nil {
				b.Fatalf("fill bench file: %v", err)
			}
		}
		if err := w.Close(); err != nil {
			b.Fatal(err)
		}
	}
	f, err := os.OpenFile(path, os.O_RDWR|unix.O_DIRECT, 0)
	if err != nil {
		b.Fatalf("open %s O_DIRECT: %v", path, err)
	}
	return f, size
}

// benchWorkload is one fio-comparable job.
type benchWorkload struct {
	name  string
	typ   uint32
	bs    uint64 // request size
	qd    int
	rand  bool
	write bool
}

var benchWorkloads = []benchWorkload{
	{name: "randread4k-qd1", typ: TypeIn, bs: 4096, qd: 1, rand: true},
	{name: "randread4k-qd32", typ: TypeIn, bs: 4096, qd: 32, rand: true},
	{name: "seqread1m-qd8", typ: TypeIn, bs: 1 << 20, qd: 8},
	{name: "seqwrite1m-qd8", typ: TypeOut, bs: 1 << 20, qd: 8},
}

// benchEngine is one backend configuration.
type benchEngine struct {
	name string
	// eager submits each request as soon as it is started (one
	// io_uring_enter per request, fio's shape) instead of once per batch
	// of completions.
	eager bool
	sync  bool
	cfg   func(mem *guestmem.Memory) uringConfig
}

var benchEngines = []benchEngine{
	{name: "uring"},
	{name: "uring-eager", eager: true},
	// Guest RAM registered as fixed buffers: READ_FIXED/WRITE_FIXED for
	// single-segment requests (the 4 KiB ones; 1 MiB requests have 16
	// segments and stay READV/WRITEV).
	{name: "uring-fixed", cfg: func(mem *guestmem.Memory) uringConfig {
		r := &mem.Regions[0]
		return uringConfig{fixed: []iouring.BufferRegion{{Addr: guestmem.AddressOf(r.Mem), Len: uint64(len(r.Mem))}}}
	}},
	// No inter-processor interrupt to deliver completions: they are
	// posted when the worker next enters the kernel.
	{name: "uring-coop", cfg: func(*guestmem.Memory) uringConfig {
		return uringConfig{setupFlags: iouring.SetupCoopTaskrun | iouring.SetupTaskrunFlag}
	}},
	{name: "sync", sync: true},
}

// BenchmarkBackend drives a backend the way the device's queue worker
// does: keep qd requests in flight, Wait for completions, start a new
// request for each. O_DIRECT on a 1 GiB file, guest RAM from guestmem,
// 1 MiB requests split into 64 KiB segments (SIZE_MAX).
func BenchmarkBackend(b *testing.B) {
	for _, eng := range benchEngines {
		for _, w := range benchWorkloads {
			b.Run(eng.name+"/"+w.name, func(b *testing.B) { benchBackend(b, eng, w) })
		}
	}
}

// cpuTime is the process's user+system CPU time so far, in nanoseconds.
func cpuTime(b *testing.B) int64 {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

func benchBackend(b *testing.B, eng benchEngine, w benchWorkload) {
	f, size := backendBenchFile(b)
	defer f.Close()
	kick, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		b.Fatal(err)
	}
	defer unix.Close(kick)
	ramSize := uint64(roundUp(w.qd*int(w.bs), 2<<20))
	mem, err := guestmem.New([]guestmem.Range{{GPA: 0, Size: ramSize}})
	if err != nil {
		b.Fatal(err)
	}
	defer mem.Close()
	// Fault guest RAM in first: the benchmark measures I/O, not page faults.
	for i := 0; i < len(mem.Regions[0].Mem); i += 4096 {
		mem.Regions[0].Mem[i] = 1
	}
	mem0, off0, err := zerocopy.DIOAlignment(f)
	if err != nil {
		b.Fatal(err)
	}
	opts := Options{Direct: true, MemAlign: mem0, OffsetAlign: off0, QueueSize: max(w.qd, 8)}
	var be Backend
	if eng.sync {
		be, err = NewSync(f, kick, opts)
	} else {
		var cfg uringConfig
		if eng.cfg != nil {
			cfg = eng.cfg(mem)
		}
		be, err = newUring(f, kick, opts, cfg)
	}
	if err != nil {
		b.Fatal(err)
	}
	defer be.Close()

	reqs := make([]Request, w.qd)
	for i := range reqs {
		r := &reqs[i]
		r.Type, r.Len = w.typ, w.bs
		r.Iov = make([]unix.Iovec, 0, MaxSegments)
		base := uint64(i) * w.bs
		for o := uint64(0); o < w.bs; o += MaxSegmentSize {
			n := min(MaxSegmentSize, w.bs-o)
			s, err := mem.Slice(base+o, n)
			if err != nil {
				b.Fatal(err)
			}
			r.Iov = append(r.Iov, unix.Iovec{Base: &s[0], Len: n})
		}
	}
	blocks := uint64(size) / w.bs
	rng := uint64(0x9e3779b97f4a7c15)
	var seq uint64
	issue := func(slot uint64) {
		var blk uint64
		if w.rand {
			rng ^= rng << 13 // xorshift64
			rng ^= rng >> 7
			rng ^= rng << 17
			blk = rng % blocks
		} else {
			blk = seq % blocks
			seq++
		}
		reqs[slot].Offset = blk * w.bs
		if err := be.Start(slot, &reqs[slot]); err != nil {
			b.Fatal(err)
		}
		if eng.eager {
			if err := be.Submit(); err != nil {
				b.Fatal(err)
			}
		}
	}
	done := make([]Completion, 0, w.qd)
	issued := 0
	for ; issued < w.qd && issued < b.N; issued++ {
		issue(uint64(issued))
	}
	b.SetBytes(int64(w.bs))
	b.ReportAllocs()
	cpu0 := cpuTime(b)
	b.ResetTimer()
	for finished := 0; finished < b.N; {
		if err := be.Submit(); err != nil {
			b.Fatal(err)
		}
		got, _, err := be.Wait(done[:0], true)
		if err != nil {
			b.Fatal(err)
		}
		for _, c := range got {
			if c.Result != int32(w.bs) {
				b.Fatalf("request %d: result %d (%v)", c.Tag, c.Result, resultErr(c.Result))
			}
			finished++
			if issued < b.N {
				issue(c.Tag)
				issued++
			}
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "IOPS")
	// CPU (user+system, the whole process) per request: the disk's rate
	// here drifts by tens of percent between runs, the CPU cost much less.
	b.ReportMetric(float64(cpuTime(b)-cpu0)/float64(b.N), "cpu-ns/op")
	runtime.KeepAlive(reqs)
}
