package vmm

// Guest-physical memory layout. Everything the VMM places in guest RAM for
// boot lives below 1 MiB; the kernel goes at 1 MiB or its preferred address.
//
//	0x0000_0500  GDT
//	0x0000_0520  IDT (empty; the kernel installs its own)
//	0x0000_6000  PVH hvm_start_info, then its memmap and module list
//	0x0000_7000  Linux boot_params (zero page)
//	0x0000_9000  identity page tables for the 64-bit boot protocol (PML4, PDPT, 4 PDs)
//	0x0002_0000  kernel command line
//	0x0009_fc00  EBDA: MP table (reserved in e820 up to 1 MiB)
//	0x0010_0000  kernel (or its preferred load address)
//	0xc000_0000  32-bit MMIO hole: devices, IOAPIC, LAPIC (RAM resumes at 4 GiB)
const (
	gdtAddr         = 0x500
	idtAddr         = 0x520
	pvhInfoAddr     = 0x6000
	pvhMemmapAddr   = 0x6040
	pvhModlistAddr  = 0x6f00
	zeroPageAddr    = 0x7000
	pml4Addr        = 0x9000
	pdptAddr        = 0xa000
	pdAddr          = 0xb000 // four pages: 0xb000..0xefff map 4 GiB with 2 MiB pages
	cmdlineAddr     = 0x20000
	cmdlineMax      = 0x10000 // our own bound; boot protocols may lower it
	ebdaStart       = 0x9fc00
	highMemStart    = 0x100000
	mmioHoleStart   = 0xc0000000
	mmioHoleEnd     = 0x100000000
	ioapicAddr      = 0xfec00000
	lapicAddr       = 0xfee00000
	defaultLoadAddr = 0x100000

	// minMemSize is the smallest guest the VMM will build: boot structures,
	// a kernel, and room for it to run.
	minMemSize = 16 << 20
)
