package vmm

import (
	"encoding/binary"

	"vmm/guestmem"
)

// GDT selectors: the 64-bit boot protocol requires __BOOT_CS = 0x10 and
// __BOOT_DS = 0x18; PVH enters with a flat 32-bit code segment.
const (
	selCode32 = 0x08
	selCode64 = 0x10
	selData   = 0x18
	selTSS    = 0x20
)

// gdtEntries are flat segment descriptors (Intel SDM Vol. 3A, 3.4.5).
var gdtEntries = [...]uint64{
	0,                  // null
	0x00cf9b000000ffff, // 0x08: 32-bit code, base 0, limit 4 GiB
	0x00af9b000000ffff, // 0x10: 64-bit code
	0x00cf93000000ffff, // 0x18: data, base 0, limit 4 GiB
	0x00808b000000ffff, // 0x20: TSS (busy, 32-bit), only to satisfy VM entry
}

// writeGDT places the GDT and an empty IDT in guest RAM.
func writeGDT(mem *guestmem.Memory) error {
	b := make([]byte, 8*len(gdtEntries))
	for i, e := range gdtEntries {
		binary.LittleEndian.PutUint64(b[8*i:], e)
	}
	if err := mem.Write(gdtAddr, b); err != nil {
		return err
	}
	return mem.Write(idtAddr, make([]byte, 8))
}

// writeIdentityPageTables maps the first 4 GiB 1:1 with 2 MiB pages, which
// covers the kernel, boot_params, the command line and the initrd as the
// 64-bit boot protocol requires.
func writeIdentityPageTables(mem *guestmem.Memory) error {
	le := binary.LittleEndian
	const present, rw, huge = 1, 2, 0x80
	pml4 := make([]byte, 4096)
	le.PutUint64(pml4, pdptAddr|present|rw)
	pdpt := make([]byte, 4096)
	pd := make([]byte, 4*4096)
	for i := uint64(0); i < 4; i++ {
		le.PutUint64(pdpt[8*i:], (pdAddr+i*4096)|present|rw)
	}
	for i := uint64(0); i < 4*512; i++ {
		le.PutUint64(pd[8*i:], (i<<21)|present|rw|huge)
	}
	for _, w := range []struct {
		addr uint64
		b    []byte
	}{{pml4Addr, pml4}, {pdptAddr, pdpt}, {pdAddr, pd}} {
		if err := mem.Write(w.addr, w.b); err != nil {
			return err
		}
	}
	return nil
}
