package devices

import (
	"fmt"
	"sync"

	"vmm/lockfree"
)

// Bus maps address ranges to devices: one for port I/O, one for MMIO.
//
// Lookups happen on every I/O exit from every vCPU. The bus keeps one
// entry per port (or per 4 KiB MMIO page) in a lockfree.Map, so a lookup is
// one hash-map read: no lock, no allocation, no search. Registration is
// rare and serialised by mu.
type Bus struct {
	name  string
	shift uint // log2 of the lookup granule: 0 for ports, 12 for MMIO pages
	mu    sync.Mutex
	slots *lockfree.Map[uint64, *busRange]
}

type busRange struct {
	base, size uint64
	dev        Device
}

// maxBusGranules bounds how many map entries one registration may add.
const maxBusGranules = 1 << 16

// NewBus returns an empty bus. name ("pio", "mmio") appears in errors;
// granuleShift is 0 for a port bus and 12 for an MMIO bus, whose ranges
// must then be page-aligned.
func NewBus(name string, granuleShift uint) *Bus {
	return &Bus{name: name, shift: granuleShift, slots: lockfree.New[uint64, *busRange](64)}
}

// NewPIOBus returns a port I/O bus (one entry per port).
func NewPIOBus() *Bus { return NewBus("pio", 0) }

// NewMMIOBus returns an MMIO bus (one entry per 4 KiB page).
func NewMMIOBus() *Bus { return NewBus("mmio", 12) }

// Register attaches dev to [base, base+size). Overlapping ranges, zero or
// wrapping sizes, and ranges not aligned to the bus granule are refused.
func (b *Bus) Register(base, size uint64, dev Device) error {
	mask := uint64(1)<<b.shift - 1
	switch {
	case size == 0 || base+size < base:
		return fmt.Errorf("%s bus: invalid range base %#x size %#x", b.name, base, size)
	case base&mask != 0 || size&mask != 0:
		return fmt.Errorf("%s bus: range %#x+%#x is not aligned to %#x", b.name, base, size, mask+1)
	case size>>b.shift > maxBusGranules:
		return fmt.Errorf("%s bus: range %#x+%#x is too large", b.name, base, size)
	}
	r := &busRange{base: base, size: size, dev: dev}
	first, last := base>>b.shift, (base+size-1)>>b.shift
	b.mu.Lock()
	defer b.mu.Unlock()
	for k := first; k <= last; k++ {
		if o, ok := b.slots.Load(k); ok {
			return fmt.Errorf("%s bus: range %#x+%#x overlaps %#x+%#x", b.name, base, size, o.base, o.size)
		}
	}
	for k := first; k <= last; k++ {
		b.slots.Store(k, r)
	}
	return nil
}

// find returns the device covering addr and the offset into it.
func (b *Bus) find(addr uint64) (Device, uint64, bool) {
	r, ok := b.slots.Load(addr >> b.shift)
	if !ok || addr-r.base >= r.size {
		return nil, 0, false
	}
	return r.dev, addr - r.base, true
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
