package vmm

import (
	"os"
	"strconv"
	"strings"
	"testing"

	"vmm/guestmem"
)

// smapsOf returns the /proc/self/smaps fields of the mapping that starts
// at b.
func smapsOf(t *testing.T, b []byte) map[string]string {
	t.Helper()
	data, err := os.ReadFile("/proc/self/smaps")
	if err != nil {
		t.Skipf("no smaps: %v", err)
	}
	want := strconv.FormatUint(uint64(guestmem.AddressOf(b)), 16)
	out := map[string]string{}
	in := false
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) >= 5 && strings.Contains(f[0], "-") {
			start, _, _ := strings.Cut(f[0], "-")
			in = strings.TrimLeft(start, "0") == want
			continue
		}
		if in && len(f) >= 2 {
			out[strings.TrimSuffix(f[0], ":")] = f[1]
		}
	}
	if len(out) == 0 {
		t.Fatalf("guest RAM at %s is not in /proc/self/smaps", want)
	}
	return out
}

// TestHugePagesTransparent: guest RAM is madvised for THP, which the
// kernel reports as THPeligible.
func TestHugePagesTransparent(t *testing.T) {
	b, _ := os.ReadFile("/sys/kernel/mm/transparent_hugepage/enabled")
	if strings.Contains(string(b), "[never]") || len(b) == 0 {
		t.Skipf("transparent huge pages are off on this host (%q)", b)
	}
	vm := newTestVM(t, haltForever, func(c *Config) { c.MemSize = 64 << 20; c.HugePages = HugePagesTransparent })
	defer vm.Close()
	if got := smapsOf(t, vm.mem.Regions[0].Mem)["THPeligible"]; got != "1" {
		t.Fatalf("THPeligible %q, want 1", got)
	}
}

// TestHugePages2M maps guest RAM from the hugetlbfs pool when it has room,
// and otherwise fails saying how many pages are needed and where to add
// them (this project's machines have none reserved).
func TestHugePages2M(t *testing.T) {
	b, _ := os.ReadFile(freeHugePages2M)
	free, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	var vm *VM
	cfg := func(c *Config) { c.MemSize = 64 << 20; c.HugePages = HugePages2M }
	if free >= 32 {
		vm = newTestVM(t, haltForever, cfg)
		defer vm.Close()
		if got := smapsOf(t, vm.mem.Regions[0].Mem)["KernelPageSize"]; got != "2048" {
			t.Fatalf("KernelPageSize %s kB, want 2048", got)
		}
		return
	}
	_, err := newGuestRAM(64<<20, HugePages2M)
	if err == nil || !strings.Contains(err.Error(), "needs 32 pages of 2 MiB") || !strings.Contains(err.Error(), "nr_hugepages") {
		t.Fatalf("with %d free huge pages: %v", free, err)
	}
}

func TestHugePagesValidation(t *testing.T) {
	if err := validHugePages(HugePages2M, 65<<20+4096); err == nil {
		t.Error("2M with a size that is not a multiple of 2 MiB was accepted")
	}
	if err := validHugePages("1G", 64<<20); err == nil {
		t.Error("1G was accepted")
	}
	for _, h := range []string{"", HugePagesTransparent, HugePages2M} {
		if err := validHugePages(h, 64<<20); err != nil {
			t.Errorf("%q: %v", h, err)
		}
	}
}
