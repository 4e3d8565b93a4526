/*
 * bootinfo.c: read what the loader handed over, once, at boot, and keep a
 * copy: the PVH struct hvm_start_info (Xen's public/arch-x86/hvm/start_info.h)
 * or the multiboot information block (the Multiboot Specification 0.6.96,
 * section 3.3). Both become the same struct boot_info, so every case runs
 * unchanged whichever way the kernel was entered. The loader's structures
 * live in low memory that the kernel may reuse later. Every pointer in them
 * must lie below 2 GiB, the RAM boot.S maps; anything else is ignored.
 */
#include "tiny.h"

#define HVM_START_MAGIC 0x336ec578
#define MULTIBOOT_BOOTLOADER_MAGIC 0x2BADB002

#define MB_INFO_MEMORY (1U << 0)
#define MB_INFO_CMDLINE (1U << 2)
#define MB_INFO_MODS (1U << 3)
#define MB_INFO_MMAP (1U << 6)
#define MB_MMAP_ENTRY_MIN 20 /* base_addr, length, type after the size field */
#define MB_MMAP_SCAN_MAX 4096

#define BOOT_MAPPED_LIMIT (2 * GiB)

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

struct hvm_modlist_entry {
	u64 paddr;
	u64 size;
	u64 cmdline_paddr;
	u64 reserved;
};

struct multiboot_info {
	u32 flags;
	u32 mem_lower, mem_upper;
	u32 boot_device;
	u32 cmdline;
	u32 mods_count, mods_addr;
	u32 syms[4];
	u32 mmap_length, mmap_addr;
};

struct multiboot_module {
	u32 mod_start, mod_end, string, reserved;
};

struct boot_info boot;

/* mapped reports whether [addr, addr+len) is non-null RAM that boot.S maps. */
static bool mapped(u64 addr, u64 len)
{
	return addr != 0 && addr < BOOT_MAPPED_LIMIT && len <= BOOT_MAPPED_LIMIT - addr;
}

/* copy_string copies the NUL-terminated string at paddr into dst[cap], truncating. */
static void copy_string(char *dst, size_t cap, u64 paddr)
{
	size_t i = 0;
	if (mapped(paddr, 1))
		for (const char *s = (const char *)(uintptr_t)paddr; i < cap - 1 && mapped(paddr + i, 1) && s[i]; i++)
			dst[i] = s[i];
	dst[i] = '\0';
}

static void add_memmap(u64 addr, u64 size, u32 type)
{
	boot.memmap_entries++;
	if (boot.memmap_count == MEMMAP_MAX)
		return;
	boot.memmap[boot.memmap_count++] = (struct memmap_entry){addr, size, type, 0};
	if (type != MEMMAP_RAM || addr + size < addr)
		return;
	boot.ram_total += size;
	if (addr + size > boot.ram_top)
		boot.ram_top = addr + size;
}

static void add_module(u64 addr, u64 size, u64 name_paddr)
{
	if (boot.modules < BOOT_MODULES_MAX) {
		struct boot_module *m = &boot.module[boot.modules];
		m->addr = addr;
		m->size = size;
		copy_string(m->name, sizeof m->name, name_paddr);
	}
	boot.modules++;
}

static void pvh_init(u32 paddr)
{
	if (!mapped(paddr, sizeof(struct hvm_start_info)))
		return;
	const struct hvm_start_info *si = (const void *)(uintptr_t)paddr;
	if (si->magic != HVM_START_MAGIC)
		return;
	boot.valid = true;
	boot.version = si->version;
	boot.flags = si->flags;
	if (mapped(si->cmdline_paddr, 1))
		cmdline_init(si->cmdline_paddr);
	u32 nmod = si->nr_modules < BOOT_MODULES_MAX ? si->nr_modules : BOOT_MODULES_MAX;
	if (mapped(si->modlist_paddr, nmod * sizeof(struct hvm_modlist_entry))) {
		const struct hvm_modlist_entry *m = (const void *)(uintptr_t)si->modlist_paddr;
		for (u32 i = 0; i < nmod; i++)
			add_module(m[i].paddr, m[i].size, m[i].cmdline_paddr);
		boot.modules = si->nr_modules;
	}
	u32 n = si->memmap_entries < MEMMAP_MAX ? si->memmap_entries : MEMMAP_MAX;
	if (si->version < 1 || !mapped(si->memmap_paddr, n * sizeof(struct memmap_entry)))
		return;
	const struct memmap_entry *e = (const void *)(uintptr_t)si->memmap_paddr;
	for (u32 i = 0; i < n; i++)
		add_memmap(e[i].addr, e[i].size, e[i].type);
	boot.memmap_entries = si->memmap_entries;
}

/*
 * multiboot_cmdline splits "<kernel file name> <command line>" (how QEMU and
 * vmm pass it) into argv0 and the command line the cases read.
 */
static void multiboot_cmdline(u64 paddr)
{
	if (!mapped(paddr, 1))
		return;
	const char *s = (const char *)(uintptr_t)paddr;
	u64 n = 0;
	while (mapped(paddr + n, 1) && s[n] && s[n] != ' ' && n < 4096)
		n++;
	size_t m = n < BOOT_NAME_MAX - 1 ? n : BOOT_NAME_MAX - 1;
	memcpy(boot.argv0, s, m);
	boot.argv0[m] = '\0';
	if (mapped(paddr + n, 1) && s[n] == ' ')
		n++;
	if (mapped(paddr + n, 1))
		cmdline_init(paddr + n);
}

static void multiboot_init(u32 paddr, u32 magic)
{
	boot.magic = magic;
	if (magic != MULTIBOOT_BOOTLOADER_MAGIC || !mapped(paddr, sizeof(struct multiboot_info)))
		return;
	const struct multiboot_info *mi = (const void *)(uintptr_t)paddr;
	boot.valid = true;
	boot.flags = mi->flags;
	if (mi->flags & MB_INFO_MEMORY) {
		boot.has_mem = true;
		boot.mem_lower = mi->mem_lower;
		boot.mem_upper = mi->mem_upper;
	}
	if (mi->flags & MB_INFO_CMDLINE)
		multiboot_cmdline(mi->cmdline);
	if ((mi->flags & MB_INFO_MODS) && mi->mods_count) {
		u32 n = mi->mods_count < BOOT_MODULES_MAX ? mi->mods_count : BOOT_MODULES_MAX;
		if (mapped(mi->mods_addr, n * sizeof(struct multiboot_module))) {
			const struct multiboot_module *m = (const void *)(uintptr_t)mi->mods_addr;
			for (u32 i = 0; i < n; i++)
				add_module(m[i].mod_start, m[i].mod_end - (u64)m[i].mod_start, m[i].string);
			boot.modules = mi->mods_count;
		}
	}
	if (!(mi->flags & MB_INFO_MMAP) || !mapped(mi->mmap_addr, mi->mmap_length))
		return;
	/* Entries are {u32 size; u64 base_addr; u64 length; u32 type}, each followed by size bytes. */
	const u8 *p = (const u8 *)(uintptr_t)mi->mmap_addr;
	u64 off = 0;
	for (int i = 0; i < MB_MMAP_SCAN_MAX && off + 4 + MB_MMAP_ENTRY_MIN <= mi->mmap_length; i++) {
		u32 size;
		u64 base, len;
		u32 type;
		memcpy(&size, p + off, 4);
		memcpy(&base, p + off + 4, 8);
		memcpy(&len, p + off + 12, 8);
		memcpy(&type, p + off + 20, 4);
		if (size < MB_MMAP_ENTRY_MIN)
			break;
		add_memmap(base, len, type);
		off += 4 + (u64)size;
	}
}

void bootinfo_init(u32 info_paddr, u32 protocol, u32 magic)
{
	boot.protocol = protocol;
	if (protocol == BOOT_MULTIBOOT)
		multiboot_init(info_paddr, magic);
	else
		pvh_init(info_paddr);
}

const char *boot_protocol_name(void)
{
	return boot.protocol == BOOT_MULTIBOOT ? "multiboot" : "PVH";
}
