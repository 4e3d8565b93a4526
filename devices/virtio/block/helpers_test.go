package block

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"vmm/guestmem"
	"vmm/internal/testutil"
)

// backendKind builds one backend under test.
type backendKind struct {
	name string
	new  func(f *os.File, kick int, o Options) (Backend, error)
}

var backendKinds = []backendKind{
	{"uring", func(f *os.File, kick int, o Options) (Backend, error) { return NewUring(f, kick, o) }},
	{"sync", func(f *os.File, kick int, o Options) (Backend, error) { return NewSync(f, kick, o) }},
}

// forEachBackend runs fn as a subtest per backend kind.
func forEachBackend(t *testing.T, fn func(t *testing.T, k backendKind)) {
	for _, k := range backendKinds {
		t.Run(k.name, func(t *testing.T) { fn(t, k) })
	}
}

// testEnv is one backend on a real file in a temporary directory (on
// /tmp, ext4 here: O_DIRECT works there, unlike tmpfs), with guest RAM
// from guestmem and a real eventfd as the kick.
type testEnv struct {
	t    *testing.T
	b    Backend
	file *os.File
	kick int
	mem  *guestmem.Memory
	next uint64 // guest RAM bump allocator (see alloc)
}

const testRAM = 32 << 20

type envConfig struct {
	size   int64 // file size; its bytes are pattern(off)
	direct bool  // open O_DIRECT
	// blockingKick makes the kick eventfd blocking (the caller chooses;
	// both kinds must work).
	blockingKick bool
	opts         Options
}

func newTestEnv(t *testing.T, k backendKind, c envConfig) *testEnv {
	t.Helper()
	if c.size == 0 {
		c.size = 8 << 20
	}
	if c.opts.QueueSize == 0 {
		c.opts.QueueSize = 64
	}
	c.opts.Direct = c.direct
	path := filepath.Join(t.TempDir(), "disk.img")
	if err := os.WriteFile(path, pattern(0, int(c.size)), 0o600); err != nil {
		t.Fatal(err)
	}
	flags := os.O_RDWR
	if c.direct {
		flags |= unix.O_DIRECT
	}
	f, err := os.OpenFile(path, flags, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	kickFlags := unix.EFD_CLOEXEC | unix.EFD_NONBLOCK
	if c.blockingKick {
		kickFlags = unix.EFD_CLOEXEC
	}
	kick, err := unix.Eventfd(0, kickFlags)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(kick) })
	mem, err := guestmem.New([]guestmem.Range{{GPA: 0, Size: testRAM}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(mem.Close)
	b, err := k.new(f, kick, c.opts)
	if k.name == "uring" && isSetupError(err) {
		testutil.Missing(t, "io_uring unavailable: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	// Registered last, so it runs first: the backend closes before the
	// eventfd, the file and guest RAM it uses.
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return &testEnv{t: t, b: b, file: f, kick: kick, mem: mem, next: 4096}
}

// pattern is the initial content of the disk at off: distinct per
// position, so a read from the wrong offset shows.
func pattern(off, n int) []byte {
	p := make([]byte, n)
	for i := range p {
		x := uint64(off+i) / 8
		p[i] = byte(x*0x9e3779b1>>24) ^ byte(off+i)
	}
	return p
}

// alloc reserves n bytes of guest RAM at an address that is a multiple of
// align plus skew, and returns its iovec.
func (e *testEnv) alloc(n, align, skew uint64) unix.Iovec {
	e.t.Helper()
	gpa := (e.next+align-1)/align*align + skew
	e.next = gpa + n
	return e.iov(gpa, n)
}

// iov is the iovec of guest RAM [gpa, gpa+n).
func (e *testEnv) iov(gpa, n uint64) unix.Iovec {
	e.t.Helper()
	b, err := e.mem.Slice(gpa, n)
	if err != nil {
		e.t.Fatal(err)
	}
	return unix.Iovec{Base: &b[0], Len: n}
}

// segs allocates one iovec per length, each aligned to align plus skew.
func (e *testEnv) segs(align, skew uint64, lens ...uint64) []unix.Iovec {
	iov := make([]unix.Iovec, 0, MaxSegments)
	for _, n := range lens {
		iov = append(iov, e.alloc(n, align, skew))
	}
	return iov
}

// rw builds an IN or OUT request over iov at off.
func rw(typ uint32, off uint64, iov []unix.Iovec) *Request {
	var n uint64
	for _, v := range iov {
		n += v.Len
	}
	return &Request{Type: typ, Offset: off, Len: n, Iov: iov}
}

// gather is the bytes iov describes, copied out.
func gather(iov []unix.Iovec) []byte {
	var out []byte
	for i := range iov {
		out = append(out, iovBytes(&iov[i])...)
	}
	return out
}

// scatter copies data into iov's memory.
func scatter(iov []unix.Iovec, data []byte) {
	for i := range iov {
		data = data[copy(iovBytes(&iov[i]), data):]
	}
}

// fileAt reads the disk at off with plain pread (through the page cache,
// on a second descriptor).
func (e *testEnv) fileAt(off int64, n int) []byte {
	e.t.Helper()
	f, err := os.Open(e.file.Name())
	if err != nil {
		e.t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, n)
	if _, err := f.ReadAt(b, off); err != nil {
		e.t.Fatal(err)
	}
	return b
}

// run starts reqs (tag = index), submits them, waits for all of them and
// returns the results by tag. Start errors fail the test.
func (e *testEnv) run(reqs ...*Request) []int32 {
	e.t.Helper()
	for i, r := range reqs {
		if err := e.b.Start(uint64(i), r); err != nil {
			e.t.Fatalf("Start(%d): %v", i, err)
		}
	}
	if err := e.b.Submit(); err != nil {
		e.t.Fatal(err)
	}
	res := make([]int32, len(reqs))
	for _, c := range e.waitN(len(reqs)) {
		res[c.Tag] = c.Result
	}
	return res
}

// waitN blocks in Wait until n completions arrived and returns them in
// the order reported. Each tag must come once. A watchdog ends a hang
// (generous: it only fires when a completion is lost).
func (e *testEnv) waitN(n int) []Completion {
	e.t.Helper()
	var hung atomic.Bool
	dog := time.AfterFunc(60*time.Second, func() {
		hung.Store(true)
		e.b.Wake()
	})
	defer dog.Stop()
	var all []Completion
	seen := map[uint64]bool{}
	buf := make([]Completion, 0, 16)
	for len(all) < n {
		got, _, err := e.b.Wait(buf[:0], true)
		if err != nil {
			e.t.Fatalf("Wait: %v", err)
		}
		if hung.Load() {
			e.t.Fatalf("hang: %d of %d completions after 60 s", len(all), n)
		}
		for _, c := range got {
			if seen[c.Tag] {
				e.t.Fatalf("tag %d completed twice", c.Tag)
			}
			seen[c.Tag] = true
		}
		all = append(all, got...)
	}
	if e.b.InFlight() != 0 {
		e.t.Fatalf("InFlight = %d after every completion", e.b.InFlight())
	}
	return all
}

// wantResults compares results with want.
func wantResults(t *testing.T, got []int32, want ...int32) {
	t.Helper()
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("request %d: result %d (%v), want %d", i, got[i], resultErr(got[i]), want[i])
		}
	}
}

func resultErr(res int32) error {
	if res < 0 {
		return unix.Errno(-res)
	}
	return nil
}

// eq fails when got differs from want, showing where.
func eq(t *testing.T, what string, got, want []byte) {
	t.Helper()
	if bytes.Equal(got, want) {
		return
	}
	for i := range min(len(got), len(want)) {
		if got[i] != want[i] {
			t.Fatalf("%s: differs at byte %d of %d (got %#x, want %#x)", what, i, len(want), got[i], want[i])
		}
	}
	t.Fatalf("%s: %d bytes, want %d", what, len(got), len(want))
}

// writeDirty runs w, a buffered OUT, until it leaves dirty pages behind.
// The kernel's background writeback (set off by anything else writing on
// this machine) may clean them at any moment, and "clean after FLUSH"
// proves something only if they were dirty before. Three misses in a row
// skip the test: nothing is wrong, it just cannot be observed right now.
func (e *testEnv) writeDirty(w *Request) {
	e.t.Helper()
	for range 3 {
		wantResults(e.t, e.run(w), int32(w.Len))
		if dirtyPages(e.t, e.file, w.Offset, w.Len) > 0 {
			return
		}
	}
	e.t.Skip("background writeback cleaned the written pages three times in a row; durability is unobservable right now")
}

// dirtyPages is how many of the file's cached pages in [off, off+n) are
// dirty or under writeback (cachestat(2), Linux 6.5).
func dirtyPages(t *testing.T, f *os.File, off, n uint64) uint64 {
	t.Helper()
	var st unix.Cachestat_t
	if err := unix.Cachestat(uint(f.Fd()), &unix.CachestatRange{Off: off, Len: n}, &st, 0); err != nil {
		if errors.Is(err, unix.ENOSYS) {
			testutil.Missing(t, "cachestat(2) needs Linux 6.5: %v", err)
		}
		t.Fatal(err)
	}
	return st.Dirty + st.Writeback
}
