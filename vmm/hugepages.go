package vmm

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"golang.org/x/sys/unix"

	"vmm/guestmem"
)

// Config.HugePages choices (Firecracker's machine-config huge_pages).
const (
	// HugePagesTransparent asks the kernel for transparent huge pages
	// (madvise MADV_HUGEPAGE): used where it can, no reservation.
	HugePagesTransparent = "transparent"
	// HugePages2M maps guest RAM from the hugetlbfs pool of 2 MiB pages,
	// reserved up front.
	HugePages2M = "2M"
)

func validHugePages(h string, size uint64) error {
	switch h {
	case "", HugePagesTransparent:
		return nil
	case HugePages2M:
		if size%guestmem.HugePage2M != 0 {
			return fmt.Errorf("huge pages 2M: the memory size %s is not a multiple of 2 MiB", FormatSize(size))
		}
		return nil
	}
	return fmt.Errorf("huge pages %q: use %q or %q (or none)", h, HugePagesTransparent, HugePages2M)
}

// freeHugePages2M is where the kernel counts unreserved 2 MiB pages; a
// variable for tests.
var freeHugePages2M = "/sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages"

// newGuestRAM maps size bytes of guest RAM, with huge pages as asked.
func newGuestRAM(size uint64, huge string) (*guestmem.Memory, error) {
	switch huge {
	case HugePages2M:
		m, err := guestmem.NewHugeTLB(memoryRanges(size))
		if errors.Is(err, unix.ENOMEM) {
			free := "an unknown number of"
			if b, rerr := os.ReadFile(freeHugePages2M); rerr == nil {
				free = strings.TrimSpace(string(b))
			}
			return nil, fmt.Errorf("huge pages 2M: the guest needs %d pages of 2 MiB and the host has %s free: raise /proc/sys/vm/nr_hugepages, or use huge pages None or Transparent",
				size/guestmem.HugePage2M, free)
		}
		return m, err
	case HugePagesTransparent:
		m, err := NewMemory(size)
		if err != nil {
			return nil, err
		}
		for _, r := range m.Regions {
			if err := unix.Madvise(r.Mem, unix.MADV_HUGEPAGE); err != nil {
				m.Close()
				return nil, fmt.Errorf("huge pages Transparent: madvise: %v (transparent huge pages are not built into this kernel)", err)
			}
		}
		return m, nil
	}
	return NewMemory(size)
}
