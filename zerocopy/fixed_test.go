package zerocopy

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"vmm/iouring"
)

// TestPoolAsIOUringFixedBuffers registers the pool's arena with a real
// io_uring as fixed buffers (buffer index = handle index) and checks that
// READ_FIXED into an acquired buffer lands exactly there and nowhere else.
func TestPoolAsIOUringFixedBuffers(t *testing.T) {
	p, err := New(Config{Count: 8, Size: 4096, Align: 4096})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	ring, err := iouring.QueueInit(8, 0)
	if err != nil {
		t.Skipf("io_uring unavailable: %v", err)
	}
	defer ring.Close()
	if err := ring.RegisterBuffers(p.Iovecs()); err != nil {
		t.Fatalf("register the pool as fixed buffers: %v", err)
	}
	want := bytes.Repeat([]byte("fixed-buffer "), 400)[:4096]
	path := filepath.Join(t.TempDir(), "data")
	if err := os.WriteFile(path, want, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()

	_, _ = p.Acquire() // occupy index 0 so the read targets a later buffer
	h, err := p.Acquire()
	if err != nil {
		t.Fatal(err)
	}
	addr, err := p.Addr(h)
	if err != nil {
		t.Fatal(err)
	}
	sqe := ring.GetSQE()
	sqe.PrepReadFixedAddr(int32(f.Fd()), addr, 4096, 0, uint16(h.Index()))
	sqe.SetUserData(42)
	if _, err := ring.SubmitAndWait(1); err != nil {
		t.Fatal(err)
	}
	cqe, err := ring.WaitCQE()
	if err != nil {
		t.Fatal(err)
	}
	if cqe.UserData != 42 || cqe.Res != 4096 {
		t.Fatalf("completion %+v", *cqe)
	}
	ring.CQESeen(cqe)
	got, _ := p.Bytes(h)
	if !bytes.Equal(got, want) {
		t.Fatal("READ_FIXED data did not land in the acquired buffer")
	}
	for i := 0; i < p.Count(); i++ {
		if i == h.Index() {
			continue
		}
		other := p.arena[i*p.Size() : (i+1)*p.Size()]
		if bytes.Contains(other, []byte("fixed-buffer")) {
			t.Fatalf("data leaked into buffer %d", i)
		}
	}
}
