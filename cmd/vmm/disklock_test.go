package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"vmm/internal/testutil"
)

// TestRunDiskLock: while one `vmm run` holds an image, a second one that
// would write it, or read what the first writes, fails at once (it must not
// wait for the lock) with exit status 1 and one line naming the image; two
// read-only users share it.
func TestRunDiskLock(t *testing.T) {
	needKVM(t)
	bin := helperBinary(t)
	kernel := writeFile(t, "halt.elf", pvhELF([]byte{0xfa, 0xf4, 0xeb, 0xfd}, 0)) // cli; hlt; jmp .-1
	img := filepath.Join(t.TempDir(), "shared.img")
	if err := os.WriteFile(img, make([]byte, 1<<20), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, first, second string
	}{
		{"writer then writer", img, img},
		{"writer then reader", img, img + ",ro"},
		{"reader then writer", img + ",ro", img},
	} {
		t.Run(tc.name, func(t *testing.T) {
			startHolding(t, bin, kernel, tc.first)
			stderr, code := runBounded(t, bin, "run", "--kernel", kernel, "--disk", tc.second)
			line := strings.TrimRight(stderr, "\n")
			if code != 1 || strings.Contains(line, "\n") || !strings.Contains(line, img) || !strings.Contains(line, "in use") {
				t.Fatalf("second vmm (--disk %s): exit %d, stderr %q; want exit 1 and one line naming %s as in use", tc.second, code, stderr, img)
			}
			t.Logf("second vmm: %s", line)
		})
	}
	t.Run("two readers", func(t *testing.T) {
		startHolding(t, bin, kernel, img+",ro")
		startHolding(t, bin, kernel, img+",ro")
	})
}

// startHolding starts `vmm run` on a guest that halts, with the disk spec,
// and returns once the guest is loaded (the disk is open and locked by
// then). The process is killed when the test ends.
func startHolding(t *testing.T, bin, kernel, disk string) {
	t.Helper()
	cmd := exec.Command(bin, "-test.run=^TestCheckHelperProcess$", "--", "run", "--kernel", kernel, "--disk", disk, "--log-level", "info")
	cmd.Env = append(os.Environ(), "VMM_CHECK_HELPER=1")
	var stderr testutil.SyncBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGKILL)
		<-exited
	})
	deadline := time.Now().Add(time.Minute) // hang guard
	for !strings.Contains(stderr.String(), "guest loaded") {
		select {
		case <-exited:
			t.Fatalf("vmm with --disk %s exited before its guest was loaded:\n%s", disk, stderr.String())
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("vmm with --disk %s did not load its guest within a minute:\n%s", disk, stderr.String())
		}
	}
}

// runBounded runs vmm to its end and returns stderr and the exit status; a
// run that would wait (on a lock, say) is killed after a minute, a hang
// guard, and fails the test.
func runBounded(t *testing.T, bin string, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append([]string{"-test.run=^TestCheckHelperProcess$", "--"}, args...)...)
	cmd.Env = append(os.Environ(), "VMM_CHECK_HELPER=1")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("vmm %v still ran after a minute: it waits instead of failing\n%s", args, stderr.String())
	}
	if ee, ok := err.(*exec.ExitError); ok {
		return stderr.String(), ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return stderr.String(), 0
}
