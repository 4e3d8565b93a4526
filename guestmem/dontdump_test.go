package guestmem

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

// TestGuestRAMNotDumped checks the kernel marks every region VM_DONTDUMP
// ("dd" in /proc/self/smaps VmFlags), so guest RAM never lands in a core.
func TestGuestRAMNotDumped(t *testing.T) {
	m := newTestMemory(t)
	smaps, err := os.ReadFile("/proc/self/smaps")
	if err != nil {
		t.Fatal(err)
	}
	for i := range m.Regions {
		r := &m.Regions[i]
		flags, ok := vmFlags(string(smaps), r.HostAddr())
		if !ok {
			t.Fatalf("region %d at %#x not in /proc/self/smaps", i, r.HostAddr())
		}
		if !strings.Contains(" "+flags+" ", " dd ") {
			t.Errorf("region %d at %#x: VmFlags %q lack dd (MADV_DONTDUMP)", i, r.HostAddr(), flags)
		}
	}
}

// vmFlags finds the mapping that holds addr (adjacent mappings with the
// same flags merge into one) and returns its VmFlags.
func vmFlags(smaps string, addr uint64) (string, bool) {
	in := false
	for _, line := range strings.Split(smaps, "\n") {
		var lo, hi uint64
		if n, _ := fmt.Sscanf(line, "%x-%x ", &lo, &hi); n == 2 && strings.Contains(line, "-") {
			in = lo <= addr && addr < hi
			continue
		}
		if f, ok := strings.CutPrefix(line, "VmFlags:"); ok && in {
			return strings.TrimSpace(f), true
		}
	}
	return "", false
}
