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
// 1, 8 and 32, the workload of fio --rw=randread --bs=4k --direct=1, with
// plain buffers and with registered buffers and files. scripts/bench-iouring.sh
// runs it beside fio.
func BenchmarkRandRead4K(b *testing.B) {
	for _, qd := range []int{1, 8, 32} {
		for _, fixed := range []bool{false, true} {
			name := fmt.Sprintf("QD%d", qd)
			if fixed {
				name += "/fixed"
			}
			b.Run(name, func(b *testing.B) { benchRandRead(b, qd, fixed, 0) })
		}
		// The setup flags fio uses: no IPIs for completions, task work
		// run only when we reap. SINGLE_ISSUER needs one OS thread.
		b.Run(fmt.Sprintf("QD%d/deferTaskrun", qd), func(b *testing.B) {
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			benchRandRead(b, qd, false, SetupCoopTaskrun|SetupSingleIssuer|SetupDeferTaskrun)
		})
	}
}

func benchRandRead(b *testing.B, qd int, fixed bool, flags uint32) {
	path, size := benchFile(b)
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_DIRECT|unix.O_CLOEXEC, 0)
	if err != nil {
		b.Fatalf("open %s O_DIRECT: %v", path, err)
	}
	defer unix.Close(fd)
	r := newRing(b, uint32(qd), &Params{Flags: flags})
	buf := alignedBuf(b, qd*4096)
	fileFd := int32(fd)
	if fixed {
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
		if fixed {
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
	b.ResetTimer()
	for done := 0; done < b.N; {
		if _, err := r.SubmitAndWait(1); err != nil {
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
			}
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "IOPS")
}
