package vmm

import (
	"bytes"
	"errors"
	"fmt"
)

// BootProtocol says how the VMM enters a kernel.
type BootProtocol int

const (
	// BootPVH enters a 32-bit entry point named by the ELF note
	// XEN_ELFNOTE_PHYS32_ENTRY with EBX pointing at hvm_start_info.
	BootPVH BootProtocol = iota
	// BootLinux64 enters the kernel's 64-bit entry in long mode with RSI
	// pointing at boot_params (Documentation/x86/boot.rst, "64-bit Boot Protocol").
	BootLinux64
)

func (p BootProtocol) String() string {
	if p == BootPVH {
		return "PVH"
	}
	return "Linux 64-bit"
}

// Segment is a piece of the kernel to copy into guest RAM at Addr, followed
// by MemSize-len(Data) zero bytes.
type Segment struct {
	Addr    uint64
	Data    []byte
	MemSize uint64
}

// Kernel is a parsed kernel image, ready to be placed in guest RAM.
type Kernel struct {
	Format   string // "ELF" or "bzImage"
	Linux    bool   // a Linux kernel (bzImage, or an ELF with a "Linux" note)
	Protocol BootProtocol
	Entry    uint64 // guest-physical entry point for Protocol
	Segments []Segment

	// SetupHeader is the bzImage setup header (from offset 0x1f1), copied
	// into boot_params; nil for ELF kernels.
	SetupHeader []byte
	// InitrdAddrMax is the highest address the initrd may end at (inclusive).
	InitrdAddrMax uint64
	// CmdlineMax is the longest command line the kernel accepts, without the NUL.
	CmdlineMax uint64
}

// ErrUnknownKernelFormat is returned for files that are neither ELF nor bzImage.
var ErrUnknownKernelFormat = errors.New("not a kernel: expected an ELF64 vmlinux or a bzImage")

// ParseKernel recognises and parses an ELF64 vmlinux or a bzImage. It never
// panics on any input.
func ParseKernel(data []byte) (*Kernel, error) {
	switch {
	case len(data) == 0:
		return nil, errors.New("file is empty")
	case bytes.HasPrefix(data, []byte("\x7fELF")):
		return parseELF(data)
	case len(data) >= 0x206 && string(data[0x202:0x206]) == "HdrS":
		return parseBzImage(data)
	}
	return nil, ErrUnknownKernelFormat
}

// End returns the first guest-physical address past the loaded kernel.
func (k *Kernel) End() uint64 {
	var end uint64
	for _, s := range k.Segments {
		if e := s.Addr + s.MemSize; e > end {
			end = e
		}
	}
	return end
}

// load copies the kernel's segments into guest RAM.
func (k *Kernel) load(mem *Memory) error {
	for _, s := range k.Segments {
		dst, err := mem.Slice(s.Addr, s.MemSize)
		if err != nil {
			return fmt.Errorf("kernel segment at %#x (%s) does not fit in guest RAM (%s): raise --mem",
				s.Addr, FormatSize(s.MemSize), FormatSize(mem.Size()))
		}
		n := copy(dst, s.Data)
		clear(dst[n:])
	}
	return nil
}
