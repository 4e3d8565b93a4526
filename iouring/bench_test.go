//go:build linux

package iouring

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"

	"golang.org/x/sys/unix"
)

// benchFile returns a fully written (not sparse) file for random reads:
// $IOURING_BENCH_FILE if set, else /var/tmp/vmm-iouring-bench.dat of
// $IOURING_BENCH_SIZE bytes (default 1 GiB), created once and reused.
func benchFile(b *testing.B) (string, int64) {
	size := int64(1 << 30)
	if s := os.Getenv("IOURING_BENCH_SIZE"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 1<<20 {
			b.Fatalf("IOURING_BENCH_SIZE=%q: want a byte count of at least 1 MiB", s)
		}
		size = n
	}
	path := os.Getenv("IOURING_BENCH_FILE")
	if path == "" {
		path = filepath.Join("/var/tmp", "vmm-iouring-bench.dat")
	}
	if st, err := os.Stat(path); err == nil && st.Size() >= size {
		return path, st.Size() &^ 4095
	}
	f, err := os.Create(path)
	if err != nil {
		b.Fatalf("create bench file: %v", err)
	}
	defer f.Close()
	chunk := make([]byte, 1<<20)
	for i := range chunk {
		chunk[i] = byte(i*131 + 7)
	}
	for off := int64(0); off < size; off += int64(len(chunk)) {
		if _, err := f.Write(chunk); err != nil {
			b.Fatalf("fill bench file: %v", err)
		}
	}
	if err := f.Sync(); err != nil {
		b.Fatal(err)
	}
	return path, size
}

// BenchmarkRandRead4K measures 4 KiB random O_DIRECT reads at queue depths
// 1, 8 and 32, the workload of fio --rw=randread --bs=4k --direct=1.
// scripts/bench-iouring.sh runs each variant beside fio, interleaved.
func BenchmarkRandRead4K(b *testing.B) {
	variants := []struct {
		name string
		o    benchOpts
	}{
		{"plain", benchOpts{}},
		// Registered buffer and file.
		{"fixed", benchOpts{fixed: true}},
		// The setup flags fio uses: no IPIs for completions, task work
		// run only when we reap. SINGLE_ISSUER needs one OS thread.
		{"deferTaskrun", benchOpts{lock: true, flags: SetupCoopTaskrun | SetupSingleIssuer | SetupDeferTaskrun}},
		// plain on one OS thread: tells whether thread hand-offs matter.
		{"locked", benchOpts{lock: true}},
		// fio's loop: one io_uring_enter per SQE as soon as its slot is
		// free, wait only when the CQ is empty.
		{"perSQE", benchOpts{perSQE: true}},
		// fio's loop and fio's setup flags together.
		{"fioLike", benchOpts{perSQE: true, lock: true, flags: SetupCoopTaskrun | SetupSingleIssuer | SetupDeferTaskrun}},
	}
	for _, qd := range []int{1, 8, 32} {
		for _, v := range variants {
			b.Run(fmt.Sprintf("QD%d/%s", qd, v.name), func(b *testing.B) {
				if v.o.lock {
					runtime.LockOSThread()
					defer runtime.UnlockOSThread()
				}
				benchRandRead(b, qd, v.o)
			})
		}
	}
}

// benchOpts selects a BenchmarkRandRead4K variant.
type benchOpts struct {
	fixed  bool   // registered buffer and file, READ_FIXED
	flags  uint32 // Setup* flags
	lock   bool   // runtime.LockOSThread for the whole run
	perSQE bool   // submit each SQE with its own io_uring_enter
}

func benchRandRead(b *testing.B, qd int, o benchOpts) {
	path, size := benchFile(b)
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_DIRECT|unix.O_CLOEXEC, 0)
	if err != nil {
		b.Fatalf("open %s O_DIRECT: %v", path, err)
	}
	defer unix.Close(fd)
	r := newRing(b, uint32(qd), &Params{Flags: o.flags})
	buf := alignedBuf(b, qd*4096)
	fileFd := int32(fd)
	if o.fixed {
		if err := r.RegisterBufferRegions([]BufferRegion{{Addr: addrOf(buf), Len: uint64(len(buf))}}); err != nil {
			b.Fatal(err)
		}
		if err := r.RegisterFiles([]int32{int32(fd)}); err != nil {
			b.Fatal(err)
		}
		fileFd = 0
	}
	blocks := uint64(size / 4096)
	rng := uint64(0x9e3779b97f4a7c15)
	issue := func(slot uint64) {
		rng ^= rng << 13 // xorshift64
		rng ^= rng >> 7
		rng ^= rng << 17
		off := (rng % blocks) * 4096
		s := r.GetSQE()
		b := buf[slot*4096 : (slot+1)*4096]
		if o.fixed {
			s.PrepReadFixed(fileFd, b, off, 0)
			s.SetFixedFile()
		} else {
			s.PrepRead(fileFd, b, off)
		}
		s.SetUserData(slot)
	}
	cqes := make([]CQE, qd)
	issued := 0
	for ; issued < qd && issued < b.N; issued++ {
		issue(uint64(issued))
	}
	b.ReportAllocs()
	b.ResetTimer()
	for done := 0; done < b.N; {
		var err error
		if o.perSQE {
			// Everything prepared is in flight already, except the
			// first batch: submit it, then wait only if nothing is
			// ready yet.
			if _, err = r.Submit(); err == nil && r.CQReady() == 0 {
				_, err = r.SubmitAndWait(1)
			}
		} else {
			_, err = r.SubmitAndWait(1)
		}
		if err != nil {
			b.Fatal(err)
		}
		n := r.PeekBatchCQE(cqes)
		for _, c := range cqes[:n] {
			if c.Res != 4096 {
				b.Fatalf("read slot %d: res %d (%v)", c.UserData, c.Res, c.Err())
			}
			done++
			if issued < b.N {
				issue(c.UserData)
				issued++
				if o.perSQE {
					if _, err := r.Submit(); err != nil {
						b.Fatal(err)
					}
				}
			}
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "IOPS")
}
