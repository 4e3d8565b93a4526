package vmm

import "vmm/guestmem"

// E820 memory types (ACPI spec, "Address Range Types").
const (
	E820RAM      = 1
	E820Reserved = 2
)

// E820Entry is one range of the guest's physical memory map.
type E820Entry struct {
	Addr, Size uint64
	Type       uint32
}

// e820Map builds the memory map the guest sees; it matches Memory's
// regions exactly, with the EBDA-to-1-MiB window reserved for the MP table
// and legacy BIOS area.
func e820Map(m *guestmem.Memory) []E820Entry {
	low := m.LowEnd()
	e := []E820Entry{
		{0, ebdaStart, E820RAM},
		{ebdaStart, highMemStart - ebdaStart, E820Reserved},
		{highMemStart, low - highMemStart, E820RAM},
	}
	for _, r := range m.Regions[1:] {
		e = append(e, E820Entry{r.GPA, uint64(len(r.Mem)), E820RAM})
	}
	return e
}
