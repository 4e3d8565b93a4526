package zerocopy

import (
	"bytes"
	"errors"
	"testing"

	"golang.org/x/sys/unix"

	"vmm/internal/testutil"
	"vmm/iouring"
)

// TestPoolAsIOUringFixedBuffers registers the pool's arena with a real
// io_uring as fixed buffers (buffer index = handle index) and checks that
// READ_FIXED into an acquired buffer lands exactly there and nowhere else.
func TestPoolAsIOUringFixedBuffers(t *testing.T) {
	const bs = 4096
	f := diskFile(t, 2, bs)
	p := newPool(t, Config{Count: 8, Size: bs, Align: 4096})
	ring, err := iouring.QueueInit(8, 0)
	if errors.Is(err, unix.ENOSYS) || errors.Is(err, unix.EPERM) {
		testutil.Missing(t, "io_uring unavailable: %v", err)
	}
	if err != nil {
		t.Fatalf("io_uring setup: %v", err)
	}
	defer ring.Close()
	if err := ring.RegisterBuffers(p.Iovecs()); err != nil {
		t.Fatalf("register the pool as fixed buffers: %v", err)
	}

	first, _ := p.Acquire() // occupy index 0 so the read targets a later buffer
	h, err := p.Acquire()
	if err != nil {
		t.Fatal(err)
	}
	defer p.Release(first)
	defer p.Release(h)
	addr, err := p.Addr(h)
	if err != nil {
		t.Fatal(err)
	}
	sqe := ring.GetSQE()
	sqe.PrepReadFixedAddr(int32(f.Fd()), addr, bs, bs, uint16(h.Index())) // block 1
	sqe.SetUserData(42)
	if _, err := ring.SubmitAndWait(1); err != nil {
		t.Fatal(err)
	}
	cqe, err := ring.WaitCQE()
	if err != nil {
		t.Fatal(err)
	}
	if cqe.UserData != 42 || cqe.Res != bs {
		t.Fatalf("completion %+v", *cqe)
	}
	ring.CQESeen(cqe)
	if got, _ := p.Bytes(h); !bytes.Equal(got, block(1, bs)) {
		t.Fatal("READ_FIXED data did not land in the acquired buffer")
	}
	zero := make([]byte, bs)
	for i := 0; i < p.Count(); i++ {
		if i != h.Index() && !bytes.Equal(p.arena[i*bs:(i+1)*bs], zero) {
			t.Fatalf("data leaked into buffer %d", i)
		}
	}
}
