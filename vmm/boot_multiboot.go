package vmm

import (
	"encoding/binary"
	"fmt"
	"strings"

	"vmm/guestmem"
)

// Multiboot information block (the Multiboot Specification 0.6.96, section
// 3.3 "Boot information format").
const (
	multibootBootloaderMagic = 0x2BADB002 // in EAX at entry

	mbInfoSize       = 116 // through the framebuffer fields
	mbModEntrySize   = 16  // mod_start, mod_end, string, reserved
	mbMmapEntrySize  = 24  // size (of the rest: 20), base_addr, length, type
	maxMultibootMmap = (mbLoaderNameAddr - mbMmapAddr) / mbMmapEntrySize

	mbInfoMemory     = 1 << 0 // mem_lower, mem_upper
	mbInfoCmdline    = 1 << 2
	mbInfoMods       = 1 << 3
	mbInfoMmap       = 1 << 6
	mbInfoLoaderName = 1 << 9

	mbInfoOffMemLower   = 4
	mbInfoOffMemUpper   = 8
	mbInfoOffCmdline    = 16
	mbInfoOffModsCount  = 20
	mbInfoOffModsAddr   = 24
	mbInfoOffMmapLength = 44
	mbInfoOffMmapAddr   = 48
	mbInfoOffLoaderName = 64

	// mem_lower counts KiB of RAM from 0, at most 640 (the spec's limit).
	maxMemLowerKiB = 640
	loaderName     = "vmm"
)

// multibootCmdline is the command line a multiboot kernel sees: the kernel
// file name, a space, then the command line, as QEMU passes it, so that
// programs that take argv[0] from it find one.
func multibootCmdline(kernelName, cmdline string) string {
	return kernelName + " " + cmdline
}

// multibootMemory returns mem_lower and mem_upper in KiB from the memory
// map: the RAM range starting at 0 (capped at 640 KiB) and the one starting
// at 1 MiB, up to the first hole.
func multibootMemory(e820 []E820Entry) (lower, upper uint32) {
	for _, e := range e820 {
		if e.Type != E820RAM {
			continue
		}
		switch e.Addr {
		case 0:
			lower = uint32(min(e.Size/1024, maxMemLowerKiB))
		case highMemStart:
			upper = uint32(min(e.Size/1024, 0xffffffff))
		}
	}
	return lower, upper
}

// writeMultibootInfo builds the multiboot information block at mbInfoAddr:
// memory sizes, the command line (already at cmdlineAddr), the initrd as
// module 0 with its file name as the module's command line, the memory map
// and the boot loader's name.
func writeMultibootInfo(mem *guestmem.Memory, e820 []E820Entry, initrdAddr, initrdSize uint64, initrdName string) error {
	le := binary.LittleEndian
	info := make([]byte, mbInfoSize)
	le.PutUint32(info, mbInfoMemory|mbInfoCmdline|mbInfoMods|mbInfoMmap|mbInfoLoaderName)
	lower, upper := multibootMemory(e820)
	le.PutUint32(info[mbInfoOffMemLower:], lower)
	le.PutUint32(info[mbInfoOffMemUpper:], upper)
	le.PutUint32(info[mbInfoOffCmdline:], cmdlineAddr)
	le.PutUint32(info[mbInfoOffModsAddr:], mbModsAddr)
	if initrdSize > 0 {
		if strings.IndexByte(initrdName, 0) >= 0 || uint64(len(initrdName)) >= cmdlineMax {
			return fmt.Errorf("initrd name (%d bytes) is too long or holds a NUL byte: it cannot be the multiboot module's command line", len(initrdName))
		}
		// placeInitrd keeps the initrd below the MMIO hole, so its
		// addresses fit the 32-bit fields.
		if err := mem.Write(mbModCmdlineAddr, append([]byte(initrdName), 0)); err != nil {
			return err
		}
		mod := make([]byte, mbModEntrySize)
		le.PutUint32(mod[0:], uint32(initrdAddr))
		le.PutUint32(mod[4:], uint32(initrdAddr+initrdSize))
		le.PutUint32(mod[8:], mbModCmdlineAddr)
		if err := mem.Write(mbModsAddr, mod); err != nil {
			return err
		}
		le.PutUint32(info[mbInfoOffModsCount:], 1)
	}
	if len(e820) > maxMultibootMmap {
		e820 = e820[:maxMultibootMmap]
	}
	mm := make([]byte, len(e820)*mbMmapEntrySize)
	for i, e := range e820 {
		b := mm[i*mbMmapEntrySize:]
		le.PutUint32(b[0:], mbMmapEntrySize-4)
		le.PutUint64(b[4:], e.Addr)
		le.PutUint64(b[12:], e.Size)
		le.PutUint32(b[20:], e.Type)
	}
	if err := mem.Write(mbMmapAddr, mm); err != nil {
		return err
	}
	le.PutUint32(info[mbInfoOffMmapLength:], uint32(len(mm)))
	le.PutUint32(info[mbInfoOffMmapAddr:], mbMmapAddr)
	if err := mem.Write(mbLoaderNameAddr, append([]byte(loaderName), 0)); err != nil {
		return err
	}
	le.PutUint32(info[mbInfoOffLoaderName:], mbLoaderNameAddr)
	return mem.Write(mbInfoAddr, info)
}
