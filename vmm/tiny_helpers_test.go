package vmm

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"vmm/guest"
	"vmm/internal/syncbuf"
	"vmm/internal/testutil"
)

// tinyKernel returns the embedded tiny test kernel, or ends the test when
// it is missing (a build before make) or /dev/kvm is.
func tinyKernel(t testing.TB) []byte {
	t.Helper()
	if _, err := os.Stat("/dev/kvm"); err != nil {
		testutil.Missing(t, "needs /dev/kvm: %v", err)
	}
	k, err := guest.TinyKernel()
	if errors.Is(err, guest.ErrNotBuilt) {
		testutil.Missing(t, "%v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// tinyRun is a VM running the tiny kernel in the background, its console
// captured.
type tinyRun struct {
	vm   *VM
	out  *syncbuf.Buffer
	done chan Result
}

// startTiny boots the tiny kernel with cmdline and the test device, and
// runs it until the test ends.
func startTiny(t *testing.T, cmdline string, cpus int, disks []DiskConfig) *tinyRun {
	t.Helper()
	r := &tinyRun{out: &syncbuf.Buffer{}, done: make(chan Result, 1)}
	vm, err := New(Config{Kernel: tinyKernel(t), KernelName: "tiny.elf", Cmdline: cmdline, MemSize: 64 << 20,
		CPUs: cpus, TestExit: true, Console: r.out, Disks: disks})
	if err != nil {
		t.Fatal(err)
	}
	r.vm = vm
	go func() { r.done <- vm.Run() }()
	t.Cleanup(func() {
		vm.Stop(Result{Status: 1, Err: errors.New("test over")})
		<-r.done
		vm.Close()
	})
	return r
}

// waitFor waits (a hang guard, not a timing assertion) until the console
// shows want.
func (r *tinyRun) waitFor(t *testing.T, want string) {
	t.Helper()
	for deadline := time.Now().Add(60 * time.Second); !strings.Contains(r.out.String(), want); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("console never showed %q:\n%s", want, r.out.String())
		}
	}
}

// result waits for the VM to end and puts the result back for Cleanup.
func (r *tinyRun) result(t *testing.T) Result {
	t.Helper()
	select {
	case res := <-r.done:
		r.done <- res
		return res
	case <-time.After(120 * time.Second):
		t.Fatalf("the VM did not stop:\n%s", r.out.String())
	}
	return Result{}
}

// diskImage writes an image of size bytes filled with fill and returns its path.
func writeImage(t *testing.T, name string, size int, fill func(i int) byte) string {
	t.Helper()
	b := make([]byte, size)
	for i := range b {
		b[i] = fill(i)
	}
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
