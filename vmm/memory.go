package vmm

import (
	"fmt"

	"vmm/guestmem"
)

// NewMemory maps size bytes of guest RAM laid out around the 32-bit MMIO
// hole (layout.go): RAM from 0 up to the hole, the rest from 4 GiB.
func NewMemory(size uint64) (*guestmem.Memory, error) {
	if size < minMemSize {
		return nil, fmt.Errorf("guest memory %s is too small: use at least %s", FormatSize(size), FormatSize(minMemSize))
	}
	if size%4096 != 0 {
		return nil, fmt.Errorf("guest memory %d bytes is not a multiple of 4 KiB", size)
	}
	return guestmem.New(memoryRanges(size))
}

// memoryRanges lays size bytes of RAM out around the 32-bit MMIO hole.
func memoryRanges(size uint64) []guestmem.Range {
	low := min(size, mmioHoleStart)
	ranges := []guestmem.Range{{GPA: 0, Size: low}}
	if size > low {
		ranges = append(ranges, guestmem.Range{GPA: mmioHoleEnd, Size: size - low})
	}
	return ranges
}
