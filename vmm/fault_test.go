package vmm

import (
	"os"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestGuardFaultsTurnsSIGBUSIntoError maps a file, truncates it, and reads
// the lost page inside guardFaults: an error, not a crash with a trace.
func TestGuardFaultsTurnsSIGBUSIntoError(t *testing.T) {
	f, err := os.CreateTemp(t.TempDir(), "kernel")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(2 * 4096); err != nil {
		t.Fatal(err)
	}
	m, err := unix.Mmap(int(f.Fd()), 0, 2*4096, unix.PROT_READ, unix.MAP_PRIVATE)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(m)
	if err := f.Truncate(0); err != nil {
		t.Fatal(err)
	}
	var sink byte
	err = guardFaults("kernel k", func() error {
		sink = m[4096]
		return nil
	})
	if err == nil || !strings.Contains(err.Error(), "changed while it was being loaded") {
		t.Fatalf("guardFaults = %v (read %d); want a fault reported as an error", err, sink)
	}
}
