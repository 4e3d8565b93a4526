package main

import (
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"vmm/guest"
	"vmm/internal/testutil"
)

// crashImageSize gives blk_crash 8192 slots of 4 KiB after its first 16 MiB:
// more than it fills before the latest kill.
const crashImageSize = 48 << 20

// TestRunBlkCrashSIGKILL runs `vmm run` with the tiny kernel's blk_crash
// case 20 times, half of them with ,direct, and kills the process with
// SIGKILL at a random moment after the guest reported its first completed
// FLUSH. Every block up to the last "blk_crash: flushed <n>" the guest
// printed must then be intact in the image (guest.CheckCrashImage).
//
// What this proves: the device completes a write (and a FLUSH) to the guest
// only after the write reached the host kernel; nothing the guest was told
// is done waits in the VMM's own memory, and a process that dies at any
// moment loses none of it. It also proves a kill mid-write leaves no
// block torn or misplaced below the flush mark.
//
// What it does not prove: durability against power loss or a host crash.
// A SIGKILLed process leaves the host page cache behind, so a buffered write
// that reached the page cache survives here whether or not FLUSH reached
// the disk; the runs without ,direct would pass even if FLUSH did nothing.
// The ,direct runs go further: O_DIRECT writes bypass the page cache, so the
// data was handed to the block layer before the guest heard of it, but the
// drive's own volatile cache is still only emptied by the FLUSH
// (fdatasync), which a power cut, not a SIGKILL, would test.
func TestRunBlkCrashSIGKILL(t *testing.T) {
	needKVM(t)
	bin := helperBinary(t)
	kernel := tinyKernelPath(t)
	for i := range 20 {
		direct := i%2 == 1
		name := fmt.Sprintf("run%02d", i)
		if direct {
			name += "-direct"
		}
		t.Run(name, func(t *testing.T) { crashOnce(t, bin, kernel, direct) })
	}
}

func crashOnce(t *testing.T, bin, kernel string, direct bool) {
	img := filepath.Join(t.TempDir(), "crash.img")
	if err := os.WriteFile(img, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(img, crashImageSize); err != nil {
		t.Fatal(err)
	}
	spec := img + ",id=crash"
	if direct {
		spec += ",direct"
	}
	cmd := exec.Command(bin, "-test.run=^TestCheckHelperProcess$", "--", "run", "--kernel", kernel,
		"--disk", spec, "--cmdline", "test=blk_crash", "--test-exit")
	cmd.Env = append(os.Environ(), "VMM_CHECK_HELPER=1")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr testutil.SyncBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Keep the serial output byte for byte: a line the kill cut short must
	// stay short, so that LastCrashFlush ignores it.
	var out testutil.SyncBuffer
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		_, _ = io.Copy(&out, stdout)
	}()
	delay := rand.N(time.Second)
	if firstFlush(&out, readDone) {
		time.Sleep(delay)
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	<-readDone
	err = cmd.Wait()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("vmm ended with %v before the kill, not by SIGKILL\nserial output:\n%s\nstderr:\n%s", err, out.String(), stderr.String())
	}
	flushed, err := guest.LastCrashFlush(out.String())
	if err != nil {
		t.Fatalf("%v\nserial output:\n%s\nstderr:\n%s", err, out.String(), stderr.String())
	}
	f, err := os.Open(img)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rep, err := guest.CheckCrashImage(f, crashImageSize, flushed)
	if err != nil {
		t.Fatalf("killed %v after the first flush, at %d blocks flushed: %v", delay.Round(time.Millisecond), flushed, err)
	}
	t.Logf("killed %v after the first flush: %d blocks flushed and intact, %d more intact but not reported flushed",
		delay.Round(time.Millisecond), flushed, rep.Unflushed)
}

// firstFlush waits until out holds a complete "blk_crash: flushed <n>"
// line. It returns false if the output ended first, or after a minute (a
// hang guard).
func firstFlush(out *testutil.SyncBuffer, ended <-chan struct{}) bool {
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		if _, err := guest.LastCrashFlush(out.String()); err == nil {
			return true
		}
		select {
		case <-ended:
			return false
		case <-time.After(5 * time.Millisecond):
		}
	}
	return false
}
