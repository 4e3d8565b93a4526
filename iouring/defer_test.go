//go:build linux

package iouring

import (
	"runtime"
	"testing"

	"golang.org/x/sys/unix"
)

// TestSubmitPostsDeferredCompletions: on a DEFER_TASKRUN ring the completion
// of a POLL_ADD woken by a pipe write waits as task work until the submitter
// enters with GETEVENTS. The next Submit must post it, so a submit-then-peek
// loop (fio's, and the perSQE benchmark's) sees it without waiting.
func TestSubmitPostsDeferredCompletions(t *testing.T) {
	runtime.LockOSThread() // SINGLE_ISSUER: every enter from this thread
	defer runtime.UnlockOSThread()
	r := newRing(t, 4, &Params{Flags: SetupSingleIssuer | SetupDeferTaskrun})
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	defer unix.Close(p[0])
	defer unix.Close(p[1])

	s := r.GetSQE()
	s.PrepPollAdd(int32(p[0]), unix.POLLIN)
	s.SetUserData(1)
	if _, err := r.Submit(); err != nil {
		t.Fatal(err)
	}
	if got := r.CQReady(); got != 0 {
		t.Fatalf("CQReady = %d before the pipe has data, want 0", got)
	}
	if _, err := unix.Write(p[1], []byte{'x'}); err != nil {
		t.Fatal(err)
	}
	// The poll fired inside write(2); its completion is deferred task work.
	s = r.GetSQE()
	s.PrepNop()
	s.SetUserData(2)
	if _, err := r.Submit(); err != nil {
		t.Fatal(err)
	}
	cqes := make([]CQE, 4)
	n := r.PeekBatchCQE(cqes)
	seen := map[uint64]bool{}
	for _, c := range cqes[:n] {
		seen[c.UserData] = true
	}
	if !seen[1] || !seen[2] {
		t.Fatalf("after Submit: completions %v, want the deferred POLL_ADD (1) and the NOP (2)", cqes[:n])
	}
}
