package vmm

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"

	"golang.org/x/sys/unix"

	"vmm/guestmem"
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
	// BootMultiboot enters a multiboot (version 1) kernel in 32-bit
	// protected mode with EAX = 0x2BADB002 and EBX pointing at the
	// multiboot information block.
	BootMultiboot
)

func (p BootProtocol) String() string {
	switch p {
	case BootPVH:
		return "PVH"
	case BootMultiboot:
		return "multiboot"
	}
	return "Linux 64-bit"
}

// Values of Config.Boot (and `vmm run --boot`): which protocol to boot a
// kernel through. BootChoiceAuto picks from the image: a bzImage boots Linux
// 64-bit; an ELF with a PVH note boots PVH; a file with a multiboot header
// (and no PVH note) boots multiboot; any other ELF64 boots Linux 64-bit.
const (
	BootChoiceAuto      = "auto"
	BootChoicePVH       = "pvh"
	BootChoiceMultiboot = "multiboot"
	BootChoiceLinux     = "linux"
)

// BootChoices lists the accepted values of Config.Boot, for help and errors.
var BootChoices = []string{BootChoiceAuto, BootChoicePVH, BootChoiceMultiboot, BootChoiceLinux}

// ValidBoot reports whether s is one of BootChoices ("" means auto).
func ValidBoot(s string) bool { return s == "" || slices.Contains(BootChoices, s) }

// Segment is a piece of the kernel to copy into guest RAM at Addr, followed
// by MemSize-len(Data) zero bytes.
type Segment struct {
	Addr    uint64
	Data    []byte
	MemSize uint64
}

// Kernel is a parsed kernel image, ready to be placed in guest RAM.
type Kernel struct {
	Format   string // "ELF", "bzImage" or "multiboot a.out kludge"
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
	// MultibootFlags is the multiboot header's flags word (BootMultiboot only).
	MultibootFlags uint32
}

// ErrUnknownKernelFormat is returned for files that are neither ELF, nor
// bzImage, nor carry a multiboot header.
var ErrUnknownKernelFormat = errors.New("not a kernel: expected an ELF64 vmlinux, a bzImage or a multiboot kernel")

// ParseKernel recognises and parses a kernel, picking its boot protocol
// itself (BootChoiceAuto). It never panics on any input.
func ParseKernel(data []byte) (*Kernel, error) { return ParseKernelFor(data, BootChoiceAuto) }

// ParseKernelFor parses a kernel for the boot protocol boot names (one of
// BootChoices); asking for a protocol the image cannot boot through is an
// error that says so. It never panics on any input.
func ParseKernelFor(data []byte, boot string) (*Kernel, error) {
	if !ValidBoot(boot) {
		return nil, fmt.Errorf("boot protocol %q: use %s", boot, strings.Join(BootChoices, ", "))
	}
	if boot == "" {
		boot = BootChoiceAuto
	}
	switch {
	case len(data) == 0:
		return nil, errors.New("file is empty")
	case bytes.HasPrefix(data, []byte("\x7fELF")):
		return parseELFKernel(data, boot)
	case len(data) >= 0x206 && string(data[0x202:0x206]) == "HdrS":
		if boot != BootChoiceAuto && boot != BootChoiceLinux {
			return nil, fmt.Errorf("a bzImage boots only through the Linux 64-bit protocol, not %s: use --boot linux or auto", boot)
		}
		return parseBzImage(data)
	}
	mb, err := findMultibootHeader(data)
	switch {
	case err != nil:
		return nil, err
	case mb == nil && boot == BootChoiceMultiboot:
		return nil, errNoMultibootHeader
	case mb == nil:
		return nil, ErrUnknownKernelFormat
	case boot != BootChoiceAuto && boot != BootChoiceMultiboot:
		return nil, fmt.Errorf("kernel is a multiboot image, not ELF: it boots only through multiboot, not %s", boot)
	}
	if mb.flags&mbFlagAddress == 0 {
		return nil, fmt.Errorf("multiboot header at offset %#x has no address fields (flag 16) and the file is not ELF: the loader cannot tell where it goes", mb.offset)
	}
	return multibootKludgeKernel(data, mb)
}

// parseELFKernel picks the protocol for an ELF image: the one asked for, or
// PVH (note present), then multiboot (header present), then Linux 64-bit.
func parseELFKernel(data []byte, boot string) (*Kernel, error) {
	img, elfErr := readELF(data)
	mb, mbErr := findMultibootHeader(data)
	if elfErr != nil {
		// A multiboot header with address fields needs nothing from the
		// ELF headers, as in GRUB and QEMU.
		if mbErr == nil && mb != nil && mb.flags&mbFlagAddress != 0 && (boot == BootChoiceAuto || boot == BootChoiceMultiboot) {
			return multibootKludgeKernel(data, mb)
		}
		return nil, elfErr
	}
	switch boot {
	case BootChoicePVH:
		if !img.hasPVH {
			return nil, errors.New("ELF has no PVH note (XEN_ELFNOTE_PHYS32_ENTRY), so it cannot boot through PVH: drop --boot pvh")
		}
		return img.elfKernel(BootPVH), nil
	case BootChoiceLinux:
		if img.class != elfClass64 {
			return nil, errors.New("ELF is 32-bit: the Linux 64-bit boot protocol needs an ELF64 vmlinux")
		}
		return img.elfKernel(BootLinux64), nil
	case BootChoiceMultiboot:
		if mbErr != nil {
			return nil, mbErr
		}
		if mb == nil {
			return nil, errNoMultibootHeader
		}
		return multibootELFKernel(data, img, mb)
	}
	switch {
	case img.hasPVH:
		return img.elfKernel(BootPVH), nil
	case mbErr != nil:
		return nil, mbErr
	case mb != nil:
		return multibootELFKernel(data, img, mb)
	case img.class != elfClass64:
		return nil, errors.New("ELF is not 64-bit (ELFCLASS64) and has no multiboot header: use an x86-64 vmlinux or a multiboot kernel")
	}
	return img.elfKernel(BootLinux64), nil
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

// load copies the kernel's segments into guest RAM; the MemSize-len(Data)
// tail of each (.bss) reads as zero afterwards (zeroTail).
func (k *Kernel) load(mem *guestmem.Memory) error {
	for _, s := range k.Segments {
		dst, err := mem.Slice(s.Addr, s.MemSize)
		if err != nil {
			return fmt.Errorf("kernel segment at %#x (%s) does not fit in guest RAM (%s): raise --mem",
				s.Addr, FormatSize(s.MemSize), FormatSize(mem.Size()))
		}
		n := copy(dst, s.Data)
		zeroTail(dst[n:], s.Addr+uint64(n))
	}
	return nil
}

// zeroTail makes b, guest RAM at gpa, read as zero without faulting in the
// pages that need no write: the whole pages go back to the kernel
// (MADV_DONTNEED: private anonymous memory then reads as zero and stays out
// of the VMM's RSS until the guest writes it), and only the partial pages at
// either end are cleared, as is everything when madvise refuses (hugetlbfs
// pages). Clearing it all faulted in 0.45 MiB for the tiny kernel's stacks
// and megabytes for a Linux .bss, pages the guest may never touch. Guest
// RAM's host mapping is page-aligned wherever its guest address is.
func zeroTail(b []byte, gpa uint64) {
	const page = 4096
	head := min(uint64(len(b)), (page-gpa%page)%page)
	whole := (uint64(len(b)) - head) / page * page
	clear(b[:head])
	clear(b[head+whole:])
	if whole == 0 {
		return
	}
	if err := unix.Madvise(b[head:head+whole], unix.MADV_DONTNEED); err != nil {
		clear(b[head : head+whole])
	}
}
