package vmm

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Multiboot version 1 header (the Multiboot Specification 0.6.96, section
// 3.1 "OS image format").
const (
	multibootHeaderMagic = 0x1BADB002
	multibootSearchLimit = 8192 // the header lies wholly within the file's first 8 KiB
	multibootHeaderSize  = 12   // magic, flags, checksum
	multibootAddrSize    = 32   // ... and header_addr, load_addr, load_end_addr, bss_end_addr, entry_addr

	mbFlagPageAlign = 1 << 0  // modules page-aligned (always true here)
	mbFlagMemInfo   = 1 << 1  // mem_* and the memory map (always given)
	mbFlagVideo     = 1 << 2  // video mode table: not provided (QEMU does not either)
	mbFlagAddress   = 1 << 16 // header carries the load addresses (the "a.out kludge")

	// Bits 0-15 are requirements a loader must refuse if it cannot meet
	// them; 3-15 are undefined, so no kernel may set them.
	mbFlagsUnknownRequired = 0xfff8
)

// multibootHeader is a multiboot header found in a kernel file.
type multibootHeader struct {
	offset uint64 // file offset of the magic
	flags  uint32
	// With mbFlagAddress: physical addresses (section 3.1.3).
	headerAddr, loadAddr, loadEndAddr, bssEndAddr, entryAddr uint32
}

var errNoMultibootHeader = errors.New("no multiboot header (magic 0x1BADB002 with a valid checksum, 4-byte aligned) in the first 8 KiB")

// findMultibootHeader looks for a multiboot header in the first 8 KiB of
// data, 4-byte aligned, as GRUB and QEMU do: the first magic whose
// checksum is right wins. It returns nil, nil when there is no magic at
// all, and an error for a header that is there but unusable: a magic
// with a wrong checksum and no valid one after it, required flags it
// cannot meet, or address fields cut off.
func findMultibootHeader(data []byte) (*multibootHeader, error) {
	le := binary.LittleEndian
	limit := uint64(min(len(data), multibootSearchLimit))
	badChecksumAt := int64(-1)
	for off := uint64(0); off+multibootHeaderSize <= limit; off += 4 {
		if le.Uint32(data[off:]) != multibootHeaderMagic {
			continue
		}
		flags, sum := le.Uint32(data[off+4:]), le.Uint32(data[off+8:])
		if multibootHeaderMagic+flags+sum != 0 {
			if badChecksumAt < 0 {
				badChecksumAt = int64(off)
			}
			continue
		}
		h := &multibootHeader{offset: off, flags: flags}
		if u := flags & mbFlagsUnknownRequired; u != 0 {
			return nil, fmt.Errorf("multiboot header at offset %#x requires features vmm does not know (flags %#x, bits 3-15): rebuild the kernel without them", off, u)
		}
		if flags&mbFlagAddress != 0 {
			if off+multibootAddrSize > limit {
				return nil, fmt.Errorf("multiboot header at offset %#x is cut off: its address fields (flag 16) end past the first 8 KiB or the file", off)
			}
			f := data[off+multibootHeaderSize:]
			h.headerAddr, h.loadAddr, h.loadEndAddr = le.Uint32(f), le.Uint32(f[4:]), le.Uint32(f[8:])
			h.bssEndAddr, h.entryAddr = le.Uint32(f[12:]), le.Uint32(f[16:])
		}
		return h, nil
	}
	if badChecksumAt >= 0 {
		return nil, fmt.Errorf("multiboot header at offset %#x has a wrong checksum (magic + flags + checksum must be 0 mod 2^32)", badChecksumAt)
	}
	return nil, nil
}

// multibootKludgeKernel loads a kernel by its multiboot header's address
// fields: the file from (header offset - (header_addr - load_addr)) is
// copied to load_addr up to load_end_addr (or the end of the file), and
// zeroed on to bss_end_addr (section 3.1.3).
func multibootKludgeKernel(data []byte, h *multibootHeader) (*Kernel, error) {
	load, headerAddr := uint64(h.loadAddr), uint64(h.headerAddr)
	if headerAddr < load {
		return nil, fmt.Errorf("multiboot header_addr %#x is below load_addr %#x", headerAddr, load)
	}
	if headerAddr-load > h.offset {
		return nil, fmt.Errorf("multiboot load_addr %#x would start %#x bytes before the header, but the header is at file offset %#x", load, headerAddr-load, h.offset)
	}
	fileOff := h.offset - (headerAddr - load)
	loadSize := uint64(len(data)) - fileOff
	if h.loadEndAddr != 0 {
		if uint64(h.loadEndAddr) < load {
			return nil, fmt.Errorf("multiboot load_end_addr %#x is below load_addr %#x", h.loadEndAddr, load)
		}
		want := uint64(h.loadEndAddr) - load
		if want > loadSize {
			return nil, fmt.Errorf("multiboot load_end_addr %#x needs %#x bytes from file offset %#x, but the file has %#x", h.loadEndAddr, want, fileOff, loadSize)
		}
		loadSize = want
	}
	memSize := loadSize
	if h.bssEndAddr != 0 {
		if uint64(h.bssEndAddr) < load+loadSize {
			return nil, fmt.Errorf("multiboot bss_end_addr %#x is below the end of the loaded data %#x", h.bssEndAddr, load+loadSize)
		}
		memSize = uint64(h.bssEndAddr) - load
	}
	if memSize == 0 {
		return nil, errors.New("multiboot address fields load nothing (load_end_addr = load_addr and no bss)")
	}
	entry := uint64(h.entryAddr)
	if entry < load || entry >= load+loadSize {
		return nil, fmt.Errorf("multiboot entry_addr %#x is outside the loaded image %#x-%#x", entry, load, load+loadSize)
	}
	k := multibootKernel(h, entry, []Segment{{Addr: load, Data: data[fileOff : fileOff+loadSize], MemSize: memSize}})
	k.Format = "multiboot a.out kludge"
	return k, nil
}

// multibootELFKernel loads a multiboot ELF (32- or 64-bit) at its segments'
// physical addresses, unless the header's address fields take precedence.
// The entry point is e_entry, moved from virtual to physical by the segment
// that holds it, as GRUB does for kernels linked at a higher virtual
// address; an e_entry that is no segment's virtual address but is one's
// physical address is taken as it is.
func multibootELFKernel(data []byte, img *elfImage, h *multibootHeader) (*Kernel, error) {
	if h.flags&mbFlagAddress != 0 {
		return multibootKludgeKernel(data, h)
	}
	for _, l := range img.loads {
		if l.paddr+l.memsz > mmioHoleEnd {
			return nil, fmt.Errorf("multiboot ELF segment at %#x-%#x ends above 4 GiB: a 32-bit loader cannot place it", l.paddr, l.paddr+l.memsz)
		}
	}
	entry, found := uint64(0), false
	for _, l := range img.loads {
		if img.entry >= l.vaddr && img.entry-l.vaddr < uint64(len(l.data)) {
			entry, found = img.entry-l.vaddr+l.paddr, true
			break
		}
	}
	for _, l := range img.loads {
		// Kernels linked high often give a physical e_entry already.
		if !found && img.entry >= l.paddr && img.entry-l.paddr < uint64(len(l.data)) {
			entry, found = img.entry, true
		}
	}
	if !found {
		return nil, fmt.Errorf("multiboot ELF entry point %#x is not inside any loaded segment", img.entry)
	}
	k := multibootKernel(h, entry, img.segments())
	k.Format = "ELF"
	return k, nil
}

func multibootKernel(h *multibootHeader, entry uint64, segs []Segment) *Kernel {
	return &Kernel{Protocol: BootMultiboot, Entry: entry, Segments: segs, MultibootFlags: h.flags,
		InitrdAddrMax: mmioHoleStart - 1, CmdlineMax: cmdlineMax - 1}
}
