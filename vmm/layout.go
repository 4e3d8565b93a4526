package vmm

// The guest-physical address map: every address the VMM places something
// at is defined here and nowhere else.
//
// RAM and what the VMM writes into it (all boot structures below 1 MiB; the
// kernel at 1 MiB or its preferred address):
//
//	0x0000_0500  GDT
//	0x0000_0520  IDT (empty; the kernel installs its own)
//	0x0000_1000  multiboot information block, module list, memory map, boot loader name
//	0x0000_6000  PVH hvm_start_info, then its memmap and module list
//	0x0000_7000  Linux boot_params (zero page)
//	0x0000_9000  identity page tables for the 64-bit boot protocol (PML4, PDPT, 4 PDs)
//	0x0002_0000  kernel command line
//	0x0003_0000  multiboot module 0's command line (the --initrd file name)
//	0x0009_fc00  EBDA: MP table (reserved in e820 up to 1 MiB)
//	0x000e_0000  ACPI tables: RSDP, XSDT, FADT, MADT, DSDT (acpi.go)
//	0x0010_0000  kernel (or its preferred load address)
//
// The 32-bit MMIO hole, from 3 GiB to 4 GiB (RAM resumes at 4 GiB):
//
//	0xc000_0000  test device MMIO scratch page (--test-exit)
//	0xd000_0000  virtio-mmio devices, one 4 KiB register page each, in --disk order
//	0xfec0_0000  IOAPIC
//	0xfee0_0000  LAPIC
//	0xfffb_c000  EPT identity-map page (Intel VMX), then the 3-page TSS at 0xfffb_d000
//
// Interrupts: GSI 0-23 are the IOAPIC's pins (0-15 also the PICs'): 0 PIT,
// 1 i8042, 4 COM1, 5 onwards one per virtio-mmio device (edge, active high,
// through an irqfd); GSI 24 is the test irqfd (an MSI route).
//
// Ports: 0x60/0x64 i8042, 0xe0-0xeb QEMU pc-testdev (--test-exit), 0xf4-0xff
// test device (--test-exit), 0x3f8-0x3ff COM1, 0x510-0x511 fw_cfg,
// 0x2000-0x2017 pc-testdev IOAPIC lines (--test-exit).
const (
	gdtAddr          = 0x500
	idtAddr          = 0x520
	mbInfoAddr       = 0x1000
	mbModsAddr       = 0x1080 // one 16-byte module entry
	mbMmapAddr       = 0x1100 // 24-byte entries up to mbLoaderNameAddr
	mbLoaderNameAddr = 0x1f00
	mbInfoEnd        = 0x2000
	pvhInfoAddr      = 0x6000
	pvhMemmapAddr    = 0x6040
	pvhModlistAddr   = 0x6f00
	zeroPageAddr     = 0x7000
	pml4Addr         = 0x9000
	pdptAddr         = 0xa000
	pdAddr           = 0xb000 // four pages: 0xb000..0xefff map 4 GiB with 2 MiB pages
	cmdlineAddr      = 0x20000
	cmdlineMax       = 0x10000 // our own bound; boot protocols may lower it
	mbModCmdlineAddr = cmdlineAddr + cmdlineMax
	ebdaStart        = 0x9fc00
	highMemStart     = 0x100000
	mmioHoleStart    = 0xc0000000
	mmioHoleEnd      = 0x100000000
	ioapicAddr       = 0xfec00000
	lapicAddr        = 0xfee00000
	defaultLoadAddr  = 0x100000

	acpiRSDPAddr = 0xe0000
	acpiXSDTAddr = 0xe0040
	acpiFADTAddr = 0xe0080
	acpiDSDTAddr = 0xe0400 // last: it grows with the devices it describes
	acpiMADTAddr = 0xe0200
	acpiEnd      = 0xe1000

	testMMIOBase    = 0xc0000000
	virtioMMIOBase  = 0xd0000000
	virtioMMIOSize  = 0x1000     // virtio.MMIOSize: one register page per device
	identityMapAddr = 0xfffbc000 // one page KVM needs for Intel VMX
	tssAddr         = 0xfffbd000 // three pages KVM needs for Intel VMX

	virtioFirstGSI = 5
	// MaxVirtioDevices is how many virtio-mmio devices fit: one IOAPIC pin
	// each, from virtioFirstGSI up to the last pin (23).
	MaxVirtioDevices = ioapicPins - virtioFirstGSI

	// minMemSize is the smallest guest the VMM will build: boot structures,
	// a kernel, and room for it to run.
	minMemSize = 16 << 20
)

// addrRange is a named half-open range of guest-physical addresses.
type addrRange struct {
	start, end uint64
	what       string
}

// multibootBootStructures are the ranges below 1 MiB the VMM writes when it
// boots a multiboot kernel. Multiboot kernels may load below 1 MiB, but
// never over these.
var multibootBootStructures = []addrRange{
	{gdtAddr, idtAddr + 8, "the GDT and IDT"},
	{mbInfoAddr, mbInfoEnd, "the multiboot information block"},
	{cmdlineAddr, mbModCmdlineAddr + cmdlineMax, "the command lines"},
	{ebdaStart, highMemStart, "the MP and ACPI tables (EBDA to 1 MiB)"},
}

// overlappingBootStructure returns the first of ranges that [addr,
// addr+size) overlaps; an end past 2^64 is treated as 2^64.
func overlappingBootStructure(ranges []addrRange, addr, size uint64) (addrRange, bool) {
	end := addr + size
	if end < addr {
		end = ^uint64(0)
	}
	for _, r := range ranges {
		if size != 0 && addr < r.end && end > r.start {
			return r, true
		}
	}
	return addrRange{}, false
}

// virtioSlot is the register page and GSI of the i-th virtio-mmio device.
func virtioSlot(i int) (base uint64, gsi uint32) {
	return virtioMMIOBase + uint64(i)*virtioMMIOSize, uint32(virtioFirstGSI + i)
}
