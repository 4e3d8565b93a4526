package vmm

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// Region is one contiguous range of guest RAM backed by host memory.
type Region struct {
	GPA  uint64 // guest-physical start
	Mem  []byte // host mapping (anonymous, MAP_NORESERVE, outside the Go heap)
	Slot uint32 // KVM memory slot
}

// End returns the first guest-physical address past the region.
func (r *Region) End() uint64 { return r.GPA + uint64(len(r.Mem)) }

// Memory is the guest's RAM: one region below the 32-bit MMIO hole and, for
// guests larger than the hole's start, one above 4 GiB.
//
// Every accessor treats guest addresses as untrusted: ranges are checked
// against a single region with overflow-safe arithmetic.
type Memory struct {
	Regions []Region
	size    uint64
}

// ErrOutOfRange is returned for any access outside guest RAM.
var ErrOutOfRange = errors.New("guest address out of range")

// NewMemory maps size bytes of guest RAM laid out around the MMIO hole.
func NewMemory(size uint64) (*Memory, error) {
	if size < minMemSize {
		return nil, fmt.Errorf("guest memory %s is too small: use at least %s", FormatSize(size), FormatSize(minMemSize))
	}
	if size%4096 != 0 {
		return nil, fmt.Errorf("guest memory %d bytes is not a multiple of 4 KiB", size)
	}
	low := min(size, mmioHoleStart)
	m := &Memory{size: size}
	if err := m.add(0, low); err != nil {
		return nil, err
	}
	if size > low {
		if err := m.add(mmioHoleEnd, size-low); err != nil {
			m.Close()
			return nil, err
		}
	}
	return m, nil
}

func (m *Memory) add(gpa, size uint64) error {
	b, err := unix.Mmap(-1, 0, int(size), unix.PROT_READ|unix.PROT_WRITE,
		unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_NORESERVE)
	if err != nil {
		return fmt.Errorf("map %s of guest memory: %w", FormatSize(size), err)
	}
	m.Regions = append(m.Regions, Region{GPA: gpa, Mem: b, Slot: uint32(len(m.Regions))})
	return nil
}

// Close unmaps guest RAM. The VM must not run afterwards.
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

// LowEnd returns the end of RAM below the MMIO hole.
func (m *Memory) LowEnd() uint64 { return m.Regions[0].End() }

// Slice returns the host bytes backing [gpa, gpa+n). The range must lie
// within one region.
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
