package testutil

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// holdLock takes an exclusive flock on path through its own descriptor, as
// another process would, and returns the function that drops it.
func holdLock(t *testing.T, path string) (release func()) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o666)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	return func() { f.Close() }
}

// TestLockExclusiveWaitsForTheHolder: while another descriptor holds the
// lock, lockExclusive does not return; it returns once that lock is gone,
// and holds the lock itself until its test ends.
func TestLockExclusiveWaitsForTheHolder(t *testing.T) {
	path := filepath.Join(t.TempDir(), "boot.lock")
	release := holdLock(t, path)
	var released atomic.Bool
	go func() {
		time.Sleep(time.Second)
		released.Store(true)
		release()
	}()
	t.Run("waiter", func(t *testing.T) {
		lockExclusive(t, path)
		if !released.Load() {
			t.Fatal("lockExclusive returned while another descriptor held the lock")
		}
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != unix.EWOULDBLOCK {
			t.Fatalf("a second locker got %v, want EWOULDBLOCK while the test holds the lock", err)
		}
	})
	// The subtest is over: its lock is gone.
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		t.Fatalf("the lock outlived the test that took it: %v", err)
	}
}

// TestLockHelperProcess is not a test: run with VMM_LOCK_HELPER=PATH it
// takes the lock on PATH and says so.
func TestLockHelperProcess(t *testing.T) {
	path := os.Getenv("VMM_LOCK_HELPER")
	if path == "" {
		return
	}
	lockExclusive(t, path)
	os.Stdout.WriteString("locked\n")
}

// TestLockUnderFlockParent runs a test under `flock PATH`, as someone
// following the old advice would: the test must see that its ancestor holds
// the lock and go ahead instead of waiting for itself forever.
func TestLockUnderFlockParent(t *testing.T) {
	flock, err := exec.LookPath("flock")
	if err != nil {
		Missing(t, "flock(1) from util-linux is needed: %v", err)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "boot.lock")
	cmd := exec.Command(flock, path, self, "-test.run=^TestLockHelperProcess$", "-test.v")
	cmd.Env = append(os.Environ(), "VMM_LOCK_HELPER="+path)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // so the guard can kill flock and its child
	var out SyncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err = <-done:
	case <-time.After(time.Minute): // a hang guard: this takes about a second
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
		t.Fatalf("the test under flock(1) waited for its own parent's lock:\n%s", out.String())
	}
	if err != nil || !strings.Contains(out.String(), "locked\n") || !strings.Contains(out.String(), "which this test runs under") {
		t.Fatalf("helper: %v\n%s", err, out.String())
	}
}
