package vmm

import (
	"encoding/binary"

	"vmm/guestmem"
)

// PVH start-of-day structures (Xen public/arch-x86/hvm/start_info.h).
const (
	pvhMagic          = 0x336ec578
	pvhVersion        = 1
	pvhInfoSize       = 56
	pvhMemmapEntSize  = 24
	pvhModlistEntSize = 32
	maxPVHMemmap      = (pvhModlistAddr - pvhMemmapAddr) / pvhMemmapEntSize
)

// writePVHInfo builds hvm_start_info, its memory map and (with an initrd)
// a one-entry module list, for the PVH entry point (EBX points at it).
func writePVHInfo(mem *guestmem.Memory, e820 []E820Entry, cmdline, rsdp, initrdAddr, initrdSize uint64) error {
	le := binary.LittleEndian
	if len(e820) > maxPVHMemmap {
		e820 = e820[:maxPVHMemmap]
	}
	info := make([]byte, pvhInfoSize)
	le.PutUint32(info[0:], pvhMagic)
	le.PutUint32(info[4:], pvhVersion)
	le.PutUint64(info[24:], cmdline)
	le.PutUint64(info[32:], rsdp)
	le.PutUint64(info[40:], pvhMemmapAddr)
	le.PutUint32(info[48:], uint32(len(e820)))
	if initrdSize > 0 {
		le.PutUint32(info[12:], 1)
		le.PutUint64(info[16:], pvhModlistAddr)
		mod := make([]byte, pvhModlistEntSize)
		le.PutUint64(mod[0:], initrdAddr)
		le.PutUint64(mod[8:], initrdSize)
		if err := mem.Write(pvhModlistAddr, mod); err != nil {
			return err
		}
	}
	mm := make([]byte, len(e820)*pvhMemmapEntSize)
	for i, e := range e820 {
		b := mm[i*pvhMemmapEntSize:]
		le.PutUint64(b[0:], e.Addr)
		le.PutUint64(b[8:], e.Size)
		le.PutUint32(b[16:], e.Type)
	}
	if err := mem.Write(pvhMemmapAddr, mm); err != nil {
		return err
	}
	return mem.Write(pvhInfoAddr, info)
}
