package vmm

import (
	"strings"
	"testing"
)

// TestMemSizeUpperBound: --mem is bounded by the host's RAM and by
// MaxMemSize (before, --mem 1T booted on a 24 GiB host).
func TestMemSizeUpperBound(t *testing.T) {
	host := hostRAM()
	if host == 0 {
		t.Fatal("sysinfo reports no RAM")
	}
	for _, size := range []uint64{host + 4096, 1 << 40, 2 << 40} {
		size = size &^ 4095
		c := Config{CPUs: 1, MemSize: size}
		err := c.validate()
		if err == nil || !strings.Contains(err.Error(), "--mem") || !strings.Contains(err.Error(), "use at most") {
			t.Errorf("--mem %d on a host with %d bytes: %v", size, host, err)
		}
	}
	c := Config{CPUs: 1, MemSize: 256 << 20}
	if err := c.validate(); err != nil {
		t.Fatalf("256M refused: %v", err)
	}
}
