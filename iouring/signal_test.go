//go:build linux

package iouring

import (
	"os"
	"os/signal"
	"runtime"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestWaitSurvivesSignals blocks in WaitCQE on a POLL_ADD of an empty pipe
// while another goroutine fires SIGUSR1 at exactly that thread, then writes
// the pipe. io_uring_enter returns EINTR for each signal; WaitCQE must retry
// and still deliver the one completion.
func TestWaitSurvivesSignals(t *testing.T) {
	r := newRing(t, 4, nil)
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	defer unix.Close(p[0])
	defer unix.Close(p[1])

	sigs := make(chan os.Signal, 64)
	signal.Notify(sigs, unix.SIGUSR1)
	defer signal.Stop(sigs)

	tids := make(chan int, 1)
	type result struct {
		cqe CQE
		err error
	}
	done := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		s := r.GetSQE()
		s.PrepPollAdd(int32(p[0]), unix.POLLIN)
		s.SetUserData(42)
		if _, err := r.Submit(); err != nil {
			done <- result{err: err}
			return
		}
		tids <- unix.Gettid()
		c, err := r.WaitCQE()
		if err != nil {
			done <- result{err: err}
			return
		}
		out := *c
		r.CQESeen(c)
		done <- result{cqe: out}
	}()

	tid := <-tids
	before := eintrRetries.Load()
	const shots = 20
	delivered := 0
	for i := 0; i < shots; i++ {
		time.Sleep(2 * time.Millisecond) // let the waiter block again
		if err := unix.Tgkill(unix.Getpid(), tid, unix.SIGUSR1); err != nil {
			t.Fatalf("tgkill: %v", err)
		}
		select {
		case <-sigs:
			delivered++
		case res := <-done:
			t.Fatalf("WaitCQE returned before the pipe was written: %+v", res)
		case <-time.After(5 * time.Second):
			t.Fatal("signal never delivered")
		}
	}
	if _, err := unix.Write(p[1], []byte("x")); err != nil {
		t.Fatal(err)
	}
	var res result
	select {
	case res = <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("WaitCQE never returned after the pipe was written")
	}
	if res.err != nil {
		t.Fatalf("WaitCQE: %v", res.err)
	}
	if res.cqe.UserData != 42 || res.cqe.Res&unix.POLLIN == 0 {
		t.Fatalf("cqe %+v, want user_data 42 with POLLIN", res.cqe)
	}
	retries := eintrRetries.Load() - before
	t.Logf("%d signals delivered, %d EINTR retries", delivered, retries)
	if retries == 0 {
		t.Error("no EINTR retry recorded: the signals did not interrupt io_uring_enter")
	}
}
