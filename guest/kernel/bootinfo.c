/*
 * bootinfo.c: read the PVH struct hvm_start_info (Xen's
 * public/arch-x86/hvm/start_info.h) once, at boot, and keep a copy: the VMM's
 * boot structures live in low memory that the kernel may reuse later.
 */
#include "tiny.h"

#define HVM_START_MAGIC 0x336ec578

struct hvm_start_info {
	u32 magic;
	u32 version;
	u32 flags;
	u32 nr_modules;
	u64 modlist_paddr;
	u64 cmdline_paddr;
	u64 rsdp_paddr;
	u64 memmap_paddr; /* version >= 1 */
	u32 memmap_entries;
	u32 reserved;
};

struct boot_info boot;

void bootinfo_init(u32 start_info_paddr)
{
	if (start_info_paddr == 0)
		return;
	const struct hvm_start_info *si = (const void *)(uintptr_t)start_info_paddr;
	if (si->magic != HVM_START_MAGIC)
		return;
	boot.valid = true;
	boot.version = si->version;
	boot.flags = si->flags;
	cmdline_init(si->cmdline_paddr);
	if (si->version < 1 || si->memmap_paddr == 0)
		return;
	boot.memmap_entries = si->memmap_entries;
	u32 n = si->memmap_entries < MEMMAP_MAX ? si->memmap_entries : MEMMAP_MAX;
	memcpy(boot.memmap, (const void *)(uintptr_t)si->memmap_paddr, n * sizeof boot.memmap[0]);
	boot.memmap_count = n;
	for (u32 i = 0; i < n; i++) {
		const struct memmap_entry *e = &boot.memmap[i];
		if (e->type != MEMMAP_RAM || e->addr + e->size < e->addr)
			continue;
		boot.ram_total += e->size;
		if (e->addr + e->size > boot.ram_top)
			boot.ram_top = e->addr + e->size;
	}
}
