//go:build linux

package iouring

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// tempFile opens a fresh read-write file in the test's temp dir.
func tempFile(t testing.TB, flags int) int {
	t.Helper()
	path := filepath.Join(t.TempDir(), "data")
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_CREAT|unix.O_CLOEXEC|flags, 0o600)
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	return fd
}

// alignedBuf maps n bytes of page-aligned anonymous memory, as O_DIRECT and
// fixed buffers need, outside the Go heap.
func alignedBuf(t testing.TB, n int) []byte {
	t.Helper()
	b, err := unix.Mmap(-1, 0, n, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		t.Fatalf("mmap %d: %v", n, err)
	}
	t.Cleanup(func() { unix.Munmap(b) })
	return b
}

func wantRes(t testing.TB, c CQE, res int32) {
	t.Helper()
	if c.Res != res {
		t.Fatalf("cqe user_data=%d res=%d (%v), want %d", c.UserData, c.Res, c.Err(), res)
	}
}

func TestReadWriteFsyncRoundTrip(t *testing.T) {
	r := newRing(t, 8, nil)
	fd := int32(tempFile(t, 0))
	msg := []byte("hello, io_uring")

	s := r.GetSQE()
	s.PrepWrite(fd, msg, 100)
	s.SetUserData(1)
	wantRes(t, submitWait(t, r), int32(len(msg)))

	for _, flags := range []uint32{0, FsyncDatasync} {
		r.GetSQE().PrepFsync(fd, flags)
		wantRes(t, submitWait(t, r), 0)
	}

	got := make([]byte, len(msg))
	r.GetSQE().PrepRead(fd, got, 100)
	wantRes(t, submitWait(t, r), int32(len(msg)))
	if !bytes.Equal(got, msg) {
		t.Fatalf("read %q, want %q", got, msg)
	}

	// Vectored: write two pieces, read them back split differently.
	a, b := []byte("vectored "), []byte("write")
	iov := []unix.Iovec{{Base: &a[0]}, {Base: &b[0]}}
	iov[0].SetLen(len(a))
	iov[1].SetLen(len(b))
	r.GetSQE().PrepWritev(fd, iov, 4096)
	wantRes(t, submitWait(t, r), int32(len(a)+len(b)))

	x, y := make([]byte, 3), make([]byte, 11)
	riov := []unix.Iovec{{Base: &x[0]}, {Base: &y[0]}}
	riov[0].SetLen(len(x))
	riov[1].SetLen(len(y))
	r.GetSQE().PrepReadv(fd, riov, 4096)
	wantRes(t, submitWait(t, r), 14)
	if string(x)+string(y) != "vectored write" {
		t.Fatalf("readv got %q+%q", x, y)
	}

	// Reading past EOF returns 0; a bad fd returns -EBADF in the CQE.
	r.GetSQE().PrepRead(fd, got, 1<<20)
	wantRes(t, submitWait(t, r), 0)
	r.GetSQE().PrepRead(-1, got, 0)
	wantRes(t, submitWait(t, r), -int32(unix.EBADF))
}

func TestFallocate(t *testing.T) {
	r := newRing(t, 2, nil)
	fd := tempFile(t, 0)
	r.GetSQE().PrepFallocate(int32(fd), 0, 4096, 1<<20)
	wantRes(t, submitWait(t, r), 0)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		t.Fatal(err)
	}
	if st.Size != 4096+1<<20 || st.Blocks*512 < 1<<20 {
		t.Errorf("after fallocate size=%d blocks=%d", st.Size, st.Blocks)
	}
	// KEEP_SIZE allocates without growing the file.
	r.GetSQE().PrepFallocate(int32(fd), unix.FALLOC_FL_KEEP_SIZE, 8<<20, 4096)
	wantRes(t, submitWait(t, r), 0)
	if err := unix.Fstat(fd, &st); err != nil || st.Size != 4096+1<<20 {
		t.Errorf("KEEP_SIZE changed size to %d (%v)", st.Size, err)
	}
}

func TestODirect(t *testing.T) {
	r := newRing(t, 8, nil)
	fd := tempFile(t, unix.O_DIRECT)
	buf := alignedBuf(t, 3*4096)
	for i := range buf {
		buf[i] = byte(i * 7)
	}
	r.GetSQE().PrepWrite(int32(fd), buf, 8192)
	wantRes(t, submitWait(t, r), int32(len(buf)))

	in := alignedBuf(t, len(buf))
	r.GetSQE().PrepRead(int32(fd), in, 8192)
	wantRes(t, submitWait(t, r), int32(len(in)))
	if !bytes.Equal(in, buf) {
		t.Fatal("O_DIRECT read back different data")
	}
	// The round trip above really ran in O_DIRECT mode.
	fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
	if err != nil || fl&unix.O_DIRECT == 0 {
		t.Fatalf("file lost O_DIRECT: flags %#x, %v", fl, err)
	}
}

func TestFixedBuffersAndFiles(t *testing.T) {
	r := newRing(t, 8, nil)
	fd := tempFile(t, unix.O_DIRECT)
	mem := alignedBuf(t, 4*4096)
	// Buffer 0 by iovec, buffers 1 and 2 by raw address (as guest RAM is).
	iov := []unix.Iovec{{Base: &mem[0]}}
	iov[0].SetLen(4096)
	if err := r.RegisterBuffers(iov); err != nil {
		t.Fatal(err)
	}
	if err := r.RegisterBuffers(iov); err == nil {
		t.Fatal("registering buffers twice succeeded")
	}
	if err := r.UnregisterBuffers(); err != nil {
		t.Fatal(err)
	}
	regions := []BufferRegion{
		{Addr: addrOf(mem[0:]), Len: 4096},
		{Addr: addrOf(mem[4096:]), Len: 2 * 4096},
	}
	if err := r.RegisterBufferRegions(regions); err != nil {
		t.Fatal(err)
	}
	// Slot 0 is empty until updated; slot 1 holds the file.
	if err := r.RegisterFiles([]int32{-1, int32(fd)}); err != nil {
		t.Fatal(err)
	}
	copy(mem[4096:], bytes.Repeat([]byte("fixed!"), 2*4096/6))
	s := r.GetSQE()
	s.PrepWriteFixed(1, mem[4096:3*4096], 0, 1)
	s.SetFixedFile()
	wantRes(t, submitWait(t, r), 2*4096)

	if n, err := r.RegisterFilesUpdate(0, []int32{int32(fd)}); err != nil || n != 1 {
		t.Fatalf("files update: %d, %v", n, err)
	}
	s = r.GetSQE()
	s.PrepReadFixed(0, mem[:4096], 4096, 0) // via the updated slot 0
	s.SetFixedFile()
	wantRes(t, submitWait(t, r), 4096)
	if !bytes.Equal(mem[:4096], mem[2*4096:3*4096]) {
		t.Fatal("fixed read returned different data")
	}
	s = r.GetSQE()
	s.PrepReadFixedAddr(1, addrOf(mem[3*4096:]), 4096, 0, 0) // outside buffer 0
	s.SetFixedFile()
	wantRes(t, submitWait(t, r), -int32(unix.EFAULT))

	// A fixed index past the table fails in the CQE.
	s = r.GetSQE()
	s.PrepRead(5, mem[:4096], 0)
	s.SetFixedFile()
	wantRes(t, submitWait(t, r), -int32(unix.EBADF))

	if err := r.UnregisterFiles(); err != nil {
		t.Fatal(err)
	}
	if err := r.UnregisterBuffers(); err != nil {
		t.Fatal(err)
	}
}

func TestManyInFlight(t *testing.T) {
	const depth = 256
	r := newRing(t, depth, nil)
	fd := tempFile(t, unix.O_DIRECT)
	mem := alignedBuf(t, depth*4096)
	for i := 0; i < depth; i++ {
		mem[i*4096] = byte(i)
	}
	// Write block i from slot i, all in flight at once.
	for i := 0; i < depth; i++ {
		s := r.GetSQE()
		if s == nil {
			t.Fatalf("SQ full at %d", i)
		}
		s.PrepWrite(int32(fd), mem[i*4096:(i+1)*4096], uint64(i)*4096)
		s.SetUserData(uint64(i))
	}
	if n, err := r.SubmitAndWait(depth); err != nil || n != depth {
		t.Fatalf("SubmitAndWait: %d, %v", n, err)
	}
	seen := make([]bool, depth)
	cqes := make([]CQE, 64)
	for got := 0; got < depth; {
		n := r.PeekBatchCQE(cqes)
		if n == 0 {
			t.Fatalf("only %d of %d completions after SubmitAndWait(%d)", got, depth, depth)
		}
		for _, c := range cqes[:n] {
			if c.Res != 4096 || seen[c.UserData] {
				t.Fatalf("bad completion %+v", c)
			}
			seen[c.UserData] = true
		}
		got += n
	}
	// Read them back in reverse slot order.
	clear(mem)
	for i := 0; i < depth; i++ {
		s := r.GetSQE()
		s.PrepRead(int32(fd), mem[i*4096:(i+1)*4096], uint64(depth-1-i)*4096)
		s.SetUserData(uint64(i))
	}
	if _, err := r.Submit(); err != nil {
		t.Fatal(err)
	}
	for got := 0; got < depth; got++ {
		c, err := r.WaitCQE()
		if err != nil {
			t.Fatal(err)
		}
		if c.Res != 4096 {
			t.Fatalf("read %d: res %d", c.UserData, c.Res)
		}
		r.CQESeen(c)
	}
	for i := 0; i < depth; i++ {
		if mem[i*4096] != byte(depth-1-i) {
			t.Fatalf("slot %d holds block %d", i, mem[i*4096])
		}
	}
}

func TestWriteFileVisibleToOS(t *testing.T) {
	// The ring writes and the ordinary file API reads: no hidden caching.
	r := newRing(t, 2, nil)
	path := filepath.Join(t.TempDir(), "f")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r.GetSQE().PrepWrite(int32(f.Fd()), []byte("abc"), 0)
	wantRes(t, submitWait(t, r), 3)
	if b, err := os.ReadFile(path); err != nil || string(b) != "abc" {
		t.Fatalf("file holds %q (%v)", b, err)
	}
}
