// Package guestmem is a guest's RAM as the VMM sees it: regions of host
// memory (anonymous mmaps, outside the Go heap) at guest-physical
// addresses, and the only ways to reach them.
//
// Every address and length that comes from the guest is untrusted. Each
// accessor checks the whole range against a single region with
// overflow-safe arithmetic, so a range that wraps, runs past the end of
// RAM or straddles a hole between regions is refused, never clipped.
package guestmem

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// Region is one contiguous range of guest RAM backed by host memory.
type Region struct {
	GPA  uint64 // guest-physical start
	Mem  []byte // host mapping (anonymous, MAP_NORESERVE, outside the Go heap, left out of core dumps)
	Slot uint32 // KVM memory slot
}

// End returns the first guest-physical address past the region.
func (r *Region) End() uint64 { return r.GPA + uint64(len(r.Mem)) }

// Range is a guest-physical range to back with RAM.
type Range struct{ GPA, Size uint64 }

// Memory is the guest's RAM: one or more regions, in ascending order, that
// do not overlap.
type Memory struct {
	Regions []Region
	size    uint64
}

// ErrOutOfRange is returned for any access outside guest RAM.
var ErrOutOfRange = errors.New("guest address out of range")

// ErrUnaligned is returned for an atomic access at an address that is not
// a multiple of its size.
var ErrUnaligned = errors.New("guest address not aligned")

// New maps one anonymous region per range. Ranges must be page-aligned,
// ascending and disjoint.
func New(ranges []Range) (*Memory, error) {
	return newMapped(ranges, 4096, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_NORESERVE)
}

// HugePage2M is the size of the pages NewHugeTLB maps.
const HugePage2M = 2 << 20

// NewHugeTLB maps each range from the host's pool of 2 MiB huge pages
// (hugetlbfs; /proc/sys/vm/nr_hugepages). Ranges must be multiples of
// 2 MiB. The pages are reserved when mapped, not when first touched: a
// pool too small fails here (ENOMEM) instead of killing the VMM later.
func NewHugeTLB(ranges []Range) (*Memory, error) {
	const mapHuge2MB = 21 << unix.MAP_HUGE_SHIFT
	return newMapped(ranges, HugePage2M, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_HUGETLB|mapHuge2MB)
}

func newMapped(ranges []Range, align uint64, flags int) (*Memory, error) {
	m := &Memory{}
	var prevEnd uint64
	for i, r := range ranges {
		end := r.GPA + r.Size
		if r.Size == 0 || r.GPA%align != 0 || r.Size%align != 0 || end < r.GPA || (i > 0 && r.GPA < prevEnd) {
			m.Close()
			return nil, fmt.Errorf("guest memory range %#x+%#x is empty, not %d-byte aligned, wrapping or overlapping", r.GPA, r.Size, align)
		}
		prevEnd = end
		b, err := unix.Mmap(-1, 0, int(r.Size), unix.PROT_READ|unix.PROT_WRITE, flags)
		if err != nil {
			m.Close()
			return nil, fmt.Errorf("map %d MiB of guest memory: %w", r.Size>>20, err)
		}
		// Guest RAM is the guest's secrets: never in a core dump, even
		// one a pipe core_pattern takes past RLIMIT_CORE 0.
		if err := unix.Madvise(b, unix.MADV_DONTDUMP); err != nil {
			_ = unix.Munmap(b)
			m.Close()
			return nil, fmt.Errorf("madvise(MADV_DONTDUMP) on guest memory: %w", err)
		}
		m.Regions = append(m.Regions, Region{GPA: r.GPA, Mem: b, Slot: uint32(i)})
		m.size += r.Size
	}
	return m, nil
}

// Close unmaps guest RAM. Nothing may touch it afterwards: not the VM, not
// a device, not an I/O the kernel still has in flight.
func (m *Memory) Close() {
	for i := range m.Regions {
		if m.Regions[i].Mem != nil {
			_ = unix.Munmap(m.Regions[i].Mem)
			m.Regions[i].Mem = nil
		}
	}
}

// Size returns the total RAM in bytes.
func (m *Memory) Size() uint64 { return m.size }

// LowEnd returns the end of the lowest region.
func (m *Memory) LowEnd() uint64 { return m.Regions[0].End() }

// Slice returns the host bytes backing [gpa, gpa+n). The range must lie
// within one region. The slice's capacity ends with it, so append cannot
// reach past the range.
func (m *Memory) Slice(gpa, n uint64) ([]byte, error) {
	for i := range m.Regions {
		r := &m.Regions[i]
		size := uint64(len(r.Mem))
		if gpa >= r.GPA && gpa-r.GPA <= size && n <= size-(gpa-r.GPA) {
			off := gpa - r.GPA
			return r.Mem[off : off+n : off+n], nil
		}
	}
	return nil, fmt.Errorf("%w: %#x+%#x", ErrOutOfRange, gpa, n)
}

// Write copies p into guest RAM at gpa.
func (m *Memory) Write(gpa uint64, p []byte) error {
	dst, err := m.Slice(gpa, uint64(len(p)))
	if err != nil {
		return err
	}
	copy(dst, p)
	return nil
}

// Read copies guest RAM at gpa into p.
func (m *Memory) Read(gpa uint64, p []byte) error {
	src, err := m.Slice(gpa, uint64(len(p)))
	if err != nil {
		return err
	}
	copy(p, src)
	return nil
}
