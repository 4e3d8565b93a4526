//go:build linux

package iouring

import (
	"errors"
	"testing"

	"golang.org/x/sys/unix"
)

// TestRestrictedRing sets a ring up the way Firecracker does: disabled at
// creation, files registered, only READ allowed and only on fixed files, then
// enabled. Everything else must be refused.
func TestRestrictedRing(t *testing.T) {
	r := newRing(t, 4, &Params{Flags: SetupRDisabled})
	fd := tempFile(t, 0)
	if _, err := unix.Pwrite(fd, []byte("restricted"), 0); err != nil {
		t.Fatal(err)
	}

	// A disabled ring refuses submission outright.
	r.GetSQE().PrepNop()
	if _, err := r.Submit(); !errors.Is(err, unix.EBADFD) {
		t.Fatalf("Submit on a disabled ring: %v, want EBADFD", err)
	}

	if err := r.RegisterFiles([]int32{int32(fd)}); err != nil {
		t.Fatal(err)
	}
	res := []Restriction{
		AllowSQEOp(OpRead),
		RequireSQEFlags(SQEFixedFile),
		AllowRegisterOp(RegisterEventfd),
	}
	if err := r.RegisterRestrictions(res); err != nil {
		t.Fatal(err)
	}
	if err := r.RegisterRestrictions(res); err == nil {
		t.Fatal("restrictions registered twice")
	}
	if err := r.EnableRings(); err != nil {
		t.Fatal(err)
	}

	// The NOP queued while disabled goes out now and is refused.
	buf := make([]byte, 10)
	s := r.GetSQE()
	s.PrepRead(0, buf, 0)
	s.SetFixedFile()
	s.SetUserData(1)
	s = r.GetSQE()
	s.PrepWrite(0, buf, 0) // opcode not allowed
	s.SetFixedFile()
	s.SetUserData(2)
	s = r.GetSQE()
	s.PrepRead(int32(fd), buf, 0) // missing the required fixed-file flag
	s.SetUserData(3)
	if _, err := r.SubmitAndWait(4); err != nil {
		t.Fatal(err)
	}
	want := map[uint64]int32{0: -int32(unix.EACCES), 1: 10, 2: -int32(unix.EACCES), 3: -int32(unix.EACCES)}
	cqes := make([]CQE, 8)
	n := r.PeekBatchCQE(cqes)
	if n != 4 {
		t.Fatalf("%d completions, want 4", n)
	}
	for _, c := range cqes[:n] {
		if w, ok := want[c.UserData]; !ok || c.Res != w {
			t.Errorf("user_data %d: res %d, want %d", c.UserData, c.Res, w)
		}
	}
	if string(buf) != "restricted" {
		t.Errorf("allowed read got %q", buf)
	}

	// Register ops not allowed are refused; allowed ones work.
	if err := r.RegisterFiles([]int32{int32(fd)}); !errors.Is(err, unix.EACCES) {
		t.Errorf("RegisterFiles on restricted ring: %v, want EACCES", err)
	}
	efd, err := unix.Eventfd(0, unix.EFD_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(efd)
	if err := r.RegisterEventfd(efd); err != nil {
		t.Errorf("allowed RegisterEventfd: %v", err)
	}
}

func TestRestrictionsNeedDisabledRing(t *testing.T) {
	r := newRing(t, 2, nil)
	if err := r.RegisterRestrictions([]Restriction{AllowSQEOp(OpNop)}); err == nil {
		t.Fatal("restrictions accepted on an enabled ring")
	}
}
