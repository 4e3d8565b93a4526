//go:build linux

package iouring

import (
	"errors"
	"testing"

	"golang.org/x/sys/unix"

	"vmm/internal/testutil"
)

// newRing sets up a ring or skips when io_uring is truly unavailable here.
func newRing(t testing.TB, entries uint32, p *Params) *Ring {
	t.Helper()
	r, err := Setup(entries, p)
	if errors.Is(err, unix.ENOSYS) || errors.Is(err, unix.EPERM) {
		testutil.Missing(t, "io_uring unavailable: %v", err)
	}
	if err != nil {
		t.Fatalf("Setup(%d): %v", entries, err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// submitWait submits everything pending and returns one completion, copied.
func submitWait(t testing.TB, r *Ring) CQE {
	t.Helper()
	if _, err := r.Submit(); err != nil {
		t.Fatalf("Submit: %v", err)
	}
	c, err := r.WaitCQE()
	if err != nil {
		t.Fatalf("WaitCQE: %v", err)
	}
	out := *c
	r.CQESeen(c)
	return out
}

func TestSetupAndClose(t *testing.T) {
	p := &Params{}
	r := newRing(t, 8, p)
	if r.SQEntries() != 8 || r.CQEntries() != 16 {
		t.Errorf("entries sq=%d cq=%d, want 8 and 16", r.SQEntries(), r.CQEntries())
	}
	if p.Features&FeatNoDrop == 0 || p.Features != r.Features() {
		t.Errorf("features %#x (%v), ring says %#x", p.Features, FeatureNames(p.Features), r.Features())
	}
	t.Logf("features: %v", FeatureNames(r.Features()))
	if err := r.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := r.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if r.Fd() != -1 || r.GetSQE() != nil || r.CQReady() != 0 || r.PeekBatchCQE(make([]CQE, 1)) != 0 {
		t.Error("closed ring still hands out state")
	}
	if _, err := r.Submit(); !errors.Is(err, ErrClosed) {
		t.Errorf("Submit after Close: %v, want ErrClosed", err)
	}
	if _, err := r.WaitCQE(); !errors.Is(err, ErrClosed) {
		t.Errorf("WaitCQE after Close: %v, want ErrClosed", err)
	}
	if err := r.RegisterFiles([]int32{0}); !errors.Is(err, ErrClosed) {
		t.Errorf("RegisterFiles after Close: %v, want ErrClosed", err)
	}
}

func TestSetupCQSize(t *testing.T) {
	r := newRing(t, 4, &Params{CQEntries: 100})
	if r.SQEntries() != 4 || r.CQEntries() != 128 {
		t.Errorf("sq=%d cq=%d, want 4 and 128 (rounded up)", r.SQEntries(), r.CQEntries())
	}
	if r.Params().Flags&SetupCQSize == 0 {
		t.Error("SetupCQSize not added for CQEntries")
	}
}

func TestSetupErrors(t *testing.T) {
	newRing(t, 1, nil) // skip when io_uring is missing
	tests := []struct {
		name    string
		entries uint32
		flags   uint32
		errno   error
	}{
		{"unknown flag", 8, 1 << 31, unix.EINVAL},
		{"zero entries", 0, 0, nil},
		{"too many entries", MaxEntries + 1, 0, nil},
		{"sqpoll unsupported", 8, SetupSQPoll, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := Setup(tt.entries, &Params{Flags: tt.flags})
			if err == nil {
				r.Close()
				t.Fatal("Setup succeeded")
			}
			if tt.errno != nil && !errors.Is(err, tt.errno) {
				t.Errorf("error %v does not wrap %v", err, tt.errno)
			}
		})
	}
}

func TestNop(t *testing.T) {
	r := newRing(t, 4, nil)
	s := r.GetSQE()
	s.PrepNop()
	s.SetUserData(0xdeadbeefcafe)
	c := submitWait(t, r)
	if c.UserData != 0xdeadbeefcafe || c.Res != 0 || c.Err() != nil {
		t.Errorf("cqe %+v", c)
	}
	if c, _ := r.PeekCQE(); c != nil {
		t.Errorf("extra completion %+v", *c)
	}
}

func TestGetSQEZeroes(t *testing.T) {
	r := newRing(t, 1, nil)
	s := r.GetSQE()
	s.PrepWriteAddr(3, 0x1000, 10, 20)
	s.SetFlags(SQEIOLink | SQEFixedFile)
	s.UserData, s.BufIndex, s.Addr3, s.FileIndex = 9, 9, 9, 9
	// Throw it away: submitting would write to fd 3. Reusing the slot
	// needs the kernel to consume it, so reset our private tail instead.
	r.sq.sqeTail--
	s2 := r.GetSQE()
	if s2 != s {
		t.Fatalf("ring of 1 handed out a different slot")
	}
	if *s2 != (SQE{}) {
		t.Errorf("GetSQE returned a dirty entry: %+v", *s2)
	}
}

func TestSQFull(t *testing.T) {
	r := newRing(t, 4, nil)
	for i := 0; i < 4; i++ {
		s := r.GetSQE()
		if s == nil {
			t.Fatalf("GetSQE %d: nil before the SQ is full", i)
		}
		s.PrepNop()
		s.SetUserData(uint64(i))
	}
	if s := r.GetSQE(); s != nil {
		t.Fatal("GetSQE on a full SQ returned an entry")
	}
	if r.SQSpaceLeft() != 0 || r.SQReady() != 4 {
		t.Errorf("space=%d ready=%d, want 0 and 4", r.SQSpaceLeft(), r.SQReady())
	}
	n, err := r.SubmitAndWait(4)
	if err != nil || n != 4 {
		t.Fatalf("SubmitAndWait: %d, %v", n, err)
	}
	cqes := make([]CQE, 8)
	if got := r.PeekBatchCQE(cqes); got != 4 {
		t.Fatalf("reaped %d, want 4", got)
	}
	if r.GetSQE() == nil {
		t.Fatal("SQ still full after submit")
	}
}

func TestCQOverflowLosesNothing(t *testing.T) {
	// 8 SQ slots, 8 CQ slots; 64 NOPs without reaping.
	r := newRing(t, 8, &Params{CQEntries: 8})
	if r.CQEntries() != 8 {
		t.Fatalf("cq entries %d", r.CQEntries())
	}
	const total = 64
	for i := 0; i < total; i += 8 {
		for j := 0; j < 8; j++ {
			s := r.GetSQE()
			s.PrepNop()
			s.SetUserData(uint64(i + j))
		}
		if _, err := r.Submit(); err != nil {
			t.Fatalf("Submit after %d: %v", i, err)
		}
	}
	if r.CQReady() > r.CQEntries() {
		t.Fatalf("CQ holds %d > %d", r.CQReady(), r.CQEntries())
	}
	if !r.cqNeedsFlush() {
		t.Fatal("kernel did not flag IORING_SQ_CQ_OVERFLOW: the test did not overflow")
	}
	seen := make(map[uint64]bool)
	cqes := make([]CQE, 5)
	for len(seen) < total {
		n := r.PeekBatchCQE(cqes)
		if n == 0 {
			c, err := r.WaitCQE()
			if err != nil {
				t.Fatalf("WaitCQE after %d: %v", len(seen), err)
			}
			cqes[0] = *c
			r.CQESeen(c)
			n = 1
		}
		for _, c := range cqes[:n] {
			if seen[c.UserData] || c.UserData >= total || c.Res != 0 {
				t.Fatalf("bad or duplicate completion %+v", c)
			}
			seen[c.UserData] = true
		}
	}
	if r.Overflow() != 0 {
		t.Errorf("kernel dropped %d completions", r.Overflow())
	}
	if c, _ := r.PeekCQE(); c != nil {
		t.Errorf("extra completion %+v", *c)
	}
}

func TestEventfdSignalled(t *testing.T) {
	r := newRing(t, 4, nil)
	efd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(efd)
	if err := r.RegisterEventfd(efd); err != nil {
		t.Fatal(err)
	}
	var buf [8]byte
	if _, err := unix.Read(efd, buf[:]); err != unix.EAGAIN {
		t.Fatalf("eventfd readable before any completion: %v", err)
	}
	r.GetSQE().PrepNop()
	submitWait(t, r)
	if n, err := unix.Read(efd, buf[:]); err != nil || n != 8 || buf[0] == 0 {
		t.Fatalf("eventfd not signalled: n=%d err=%v val=%v", n, err, buf)
	}
	if err := r.RegisterEventfd(efd); !errors.Is(err, unix.EBUSY) {
		t.Errorf("second RegisterEventfd: %v, want EBUSY", err)
	}
	if err := r.UnregisterEventfd(); err != nil {
		t.Fatal(err)
	}
	r.GetSQE().PrepNop()
	submitWait(t, r)
	if _, err := unix.Read(efd, buf[:]); err != unix.EAGAIN {
		t.Errorf("eventfd signalled after unregister: %v", err)
	}
	if err := r.RegisterEventfdAsync(efd); err != nil {
		t.Fatal(err)
	}
}

func TestProbe(t *testing.T) {
	newRing(t, 1, nil)
	p, err := ProbeOpcodes()
	if err != nil {
		t.Fatal(err)
	}
	for _, op := range []uint8{OpNop, OpReadv, OpWritev, OpFsync, OpReadFixed, OpWriteFixed,
		OpPollAdd, OpFallocate, OpRead, OpWrite} {
		if !p.Supported(op) {
			t.Errorf("%s not supported", OpName(op))
		}
	}
	if p.LastOp() < OpWrite || p.Supported(255) {
		t.Errorf("last op %d, op 255 supported=%v", p.LastOp(), p.Supported(255))
	}
	var names []string
	for _, op := range p.SupportedOps() {
		names = append(names, OpName(op))
	}
	t.Logf("last op %d; supported: %v", p.LastOp(), names)
}

func TestOpName(t *testing.T) {
	tests := map[uint8]string{OpNop: "NOP", OpReadv: "READV", OpFsync: "FSYNC",
		OpReadFixed: "READ_FIXED", OpPollAdd: "POLL_ADD", OpFallocate: "FALLOCATE",
		OpRead: "READ", OpWrite: "WRITE", OpWritevFixed: "WRITEV_FIXED", 200: "OP_200"}
	for op, want := range tests {
		if got := OpName(op); got != want {
			t.Errorf("OpName(%d) = %q, want %q", op, got, want)
		}
	}
	for op := uint8(0); op < opKnown; op++ {
		if opNames[op] == "" {
			t.Errorf("opcode %d has no name", op)
		}
	}
}
