package vmm

import (
	"encoding/binary"

	"vmm/guestmem"
)

// boot_params ("zero page") offsets (arch/x86/include/uapi/asm/bootparam.h).
const (
	bpACPIRSDPAddr    = 0x070
	bpExtRamdiskImage = 0x0c0
	bpExtRamdiskSize  = 0x0c4
	bpExtCmdLinePtr   = 0x0c8
	bpE820Entries     = 0x1e8
	bpE820Table       = 0x2d0
	bpE820Max         = 128
	zeroPageSize      = 4096

	loaderTypeUndefined = 0xff
	defaultKernelAlign  = 0x1000000
)

// writeZeroPage builds boot_params for the 64-bit Linux boot protocol. For
// a bzImage the setup header comes from the image; for an ELF vmlinux the
// VMM writes the fields the kernel reads itself.
func writeZeroPage(mem *guestmem.Memory, k *Kernel, e820 []E820Entry, cmdline, initrdAddr, initrdSize uint64) error {
	le := binary.LittleEndian
	zp := make([]byte, zeroPageSize)
	if k.SetupHeader != nil {
		copy(zp[setupHeaderStart:], k.SetupHeader)
	} else {
		le.PutUint16(zp[hdrBootFlag:], 0xaa55)
		copy(zp[hdrMagic:], "HdrS")
		le.PutUint16(zp[hdrVersion:], 0x020f)
		le.PutUint32(zp[hdrKernelAlignment:], defaultKernelAlign)
		le.PutUint32(zp[hdrCmdlineSize:], uint32(k.CmdlineMax))
	}
	le.PutUint64(zp[bpACPIRSDPAddr:], acpiRSDPAddr)
	zp[hdrTypeOfLoader] = loaderTypeUndefined
	zp[hdrLoadFlags] |= loadFlagLoadedHigh
	le.PutUint32(zp[hdrCmdLinePtr:], uint32(cmdline))
	le.PutUint32(zp[bpExtCmdLinePtr:], uint32(cmdline>>32))
	le.PutUint32(zp[hdrRamdiskImage:], uint32(initrdAddr))
	le.PutUint32(zp[hdrRamdiskSize:], uint32(initrdSize))
	le.PutUint32(zp[bpExtRamdiskImage:], uint32(initrdAddr>>32))
	le.PutUint32(zp[bpExtRamdiskSize:], uint32(initrdSize>>32))
	if len(e820) > bpE820Max {
		e820 = e820[:bpE820Max]
	}
	zp[bpE820Entries] = uint8(len(e820))
	for i, e := range e820 {
		b := zp[bpE820Table+20*i:]
		le.PutUint64(b[0:], e.Addr)
		le.PutUint64(b[8:], e.Size)
		le.PutUint32(b[16:], e.Type)
	}
	return mem.Write(zeroPageAddr, zp)
}
