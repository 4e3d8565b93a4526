package devices

import (
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
)

// Bus maps address ranges to devices: one for port I/O, one for MMIO.
//
// Lookups happen on every I/O exit from every vCPU and never take a lock:
// the range table is an immutable sorted slice published through an
// atomic pointer, replaced whole (copy-on-write) by the rare registration.
type Bus struct {
	name   string
	mu     sync.Mutex // serialises writers; readers never take it
	ranges atomic.Pointer[[]busRange]
}

type busRange struct {
	base, size uint64
	dev        Device
}

// NewBus returns an empty bus; name ("pio", "mmio") appears in errors.
func NewBus(name string) *Bus {
	b := &Bus{name: name}
	empty := []busRange{}
	b.ranges.Store(&empty)
	return b
}

// Register attaches dev to [base, base+size). Overlapping ranges and
// zero or wrapping sizes are refused.
func (b *Bus) Register(base, size uint64, dev Device) error {
	if size == 0 || base+size < base {
		return fmt.Errorf("%s bus: invalid range base %#x size %#x", b.name, base, size)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	old := *b.ranges.Load()
	for _, r := range old {
		if base < r.base+r.size && r.base < base+size {
			return fmt.Errorf("%s bus: range %#x+%#x overlaps %#x+%#x", b.name, base, size, r.base, r.size)
		}
	}
	next := append(append(make([]busRange, 0, len(old)+1), old...), busRange{base, size, dev})
	sort.Slice(next, func(i, j int) bool { return next[i].base < next[j].base })
	b.ranges.Store(&next)
	return nil
}

// find returns the device covering addr and the offset into it.
func (b *Bus) find(addr uint64) (Device, uint64, bool) {
	rs := *b.ranges.Load()
	i := sort.Search(len(rs), func(i int) bool { return rs[i].base+rs[i].size > addr })
	if i < len(rs) && rs[i].base <= addr {
		return rs[i].dev, addr - rs[i].base, true
	}
	return nil, 0, false
}

// Read dispatches a guest read. With no device at addr it fills data with
// 0xff, as an unclaimed ISA/PCI read does, and returns false.
func (b *Bus) Read(addr uint64, data []byte) bool {
	if d, off, ok := b.find(addr); ok {
		d.Read(off, data)
		return true
	}
	for i := range data {
		data[i] = 0xff
	}
	return false
}

// Write dispatches a guest write; writes to unclaimed addresses are dropped
// and reported with false.
func (b *Bus) Write(addr uint64, data []byte) bool {
	if d, off, ok := b.find(addr); ok {
		d.Write(off, data)
		return true
	}
	return false
}
