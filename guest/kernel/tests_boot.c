/*
 * tests_boot.c: cases about what the VMM handed over at boot: serial,
 * command line, memory map, boot information and modules, fw_cfg.
 */
#include "tiny.h"

const char *test_serial(void)
{
	kprintf("serial: the quick brown fox jumps over the lazy dog 0123456789\n");
	if (!serial_thre_ok())
		return "LSR never showed THRE (transmit holding register empty) or reads 0xff";
	return NULL;
}

const char *test_cmdline(void)
{
	const char *c = cmdline();
	kprintf("cmdline: %s\n", c);
	if (!boot.valid)
		return "no boot information (PVH start_info or multiboot info), so no command line";
	if (cmdline_truncated())
		return fail_reason("command line longer than %u bytes", (unsigned)(strlen(c)));
	for (const char *p = c; *p; p++)
		if ((u8)*p < 0x20 || (u8)*p > 0x7e)
			if (*p != '\t')
				return fail_reason("non-printable byte 0x%02x at offset %u", (u8)*p,
						   (unsigned)(p - c));
	/* The runner chose cases from test=; re-derive that from the raw text. */
	const char *val;
	size_t len;
	bool has_token = cmdline_value("test", &val, &len);
	bool raw = false;
	for (const char *p = c; *p; p++)
		if ((p == c || p[-1] == ' ' || p[-1] == '\t') && memcmp(p, "test=", 5) == 0)
			raw = true;
	if (has_token != raw)
		return "test= token parsing disagrees with the raw command line";
	return NULL;
}

/* pattern gives each qword of the test page a distinct, address-dependent value. */
static u64 pattern(u64 addr)
{
	return (addr * 0x9e3779b97f4a7c15UL) ^ 0xa5a5a5a55a5a5a5aUL;
}

const char *test_memory(void)
{
	if (!boot.valid)
		return "no boot information (PVH start_info or multiboot info)";
	if (boot.memmap_count == 0)
		return fail_reason("the %s boot information has no memory map", boot_protocol_name());
	for (u32 i = 0; i < boot.memmap_count; i++) {
		const struct memmap_entry *e = &boot.memmap[i];
		kprintf("memmap: %016lx-%016lx type %u\n", e->addr, e->addr + e->size, e->type);
	}
	kprintf("memory: %lu bytes RAM, top %lx\n", boot.ram_total, boot.ram_top);
	if (boot.memmap_entries > MEMMAP_MAX)
		return fail_reason("memory map has %u entries, more than the %u this kernel reads",
				   boot.memmap_entries, MEMMAP_MAX);
	if (boot.ram_top < 2 * MiB)
		return "less than 2 MiB of RAM in the memory map";

	const char *val;
	size_t len;
	if (cmdline_value("expect_mem", &val, &len)) {
		u64 mib;
		if (!parse_u64(val, len, &mib) || mib == 0 || mib > (1UL << 30))
			return "expect_mem= is not a number of MiB";
		u64 want = mib * MiB;
		if (want <= 0xC0000000UL && boot.ram_top != want)
			return fail_reason("highest RAM ends at %lx, expect_mem=%lu says %lx",
					   boot.ram_top, mib, want);
		u64 diff = boot.ram_total > want ? boot.ram_total - want : want - boot.ram_total;
		if (diff > MiB)
			return fail_reason("RAM totals %lu bytes, more than 1 MiB away from expect_mem=%lu",
					   boot.ram_total, mib);
	}

	u64 page = (boot.ram_top & ~4095UL) - 4096;
	const char *why;
	if (!map_identity_2m(page, page + 4096, &why))
		return fail_reason("cannot map the top page %lx: %s", page, why);
	volatile u64 *p = (volatile u64 *)(uintptr_t)page;
	for (u64 i = 0; i < 512; i++)
		p[i] = pattern(page + 8 * i);
	for (u64 i = 0; i < 512; i++)
		if (p[i] != pattern(page + 8 * i))
			return fail_reason("top page %lx: qword %lu reads %lx, wrote %lx", page, i, p[i],
					   pattern(page + 8 * i));
	return NULL;
}

/* fnv1a is the 32-bit FNV-1a hash of p[0:n]: cheap, and easy to recompute in a test. */
static u32 fnv1a(const u8 *p, u64 n)
{
	u32 h = 2166136261U;
	for (u64 i = 0; i < n; i++) {
		h ^= p[i];
		h *= 16777619U;
	}
	return h;
}

/* At ~4 M guest instructions/s, hash no more of a module than this. */
#define MODULE_HASH_MAX (256 * KiB)

/* in_ram reports whether [addr, addr+size) lies inside one RAM range of the memory map. */
static bool in_ram(u64 addr, u64 size)
{
	for (u32 i = 0; i < boot.memmap_count; i++) {
		const struct memmap_entry *e = &boot.memmap[i];
		if (e->type == MEMMAP_RAM && addr >= e->addr && addr - e->addr <= e->size &&
		    size <= e->size - (addr - e->addr))
			return true;
	}
	return false;
}

const char *test_bootinfo(void)
{
	if (!boot.valid) {
		if (boot.protocol == BOOT_MULTIBOOT)
			return fail_reason("no multiboot information (EAX %x, want 0x2badb002)", boot.magic);
		return "no PVH start_info (magic 0x336ec578 not found at EBX)";
	}
	kprintf("bootinfo: booted through %s\n", boot_protocol_name());
	if (boot.protocol == BOOT_MULTIBOOT) {
		kprintf("bootinfo: argv0 %s\n", boot.argv0);
		if (!boot.argv0[0])
			return "the multiboot command line has no argv[0] (the kernel file name)";
		if (!boot.has_mem)
			return "the multiboot information has no mem_lower/mem_upper (flag 0)";
		kprintf("bootinfo: mem_lower %u KiB\n", boot.mem_lower);
		kprintf("bootinfo: mem_upper %u KiB\n", boot.mem_upper);
		if (boot.mem_lower == 0 || boot.mem_lower > 640)
			return fail_reason("mem_lower %u KiB is not within 1-640 KiB", boot.mem_lower);
		/* mem_upper is "maximally the address of the first upper memory hole minus 1 MiB". */
		u64 upper = 0;
		for (u32 i = 0; i < boot.memmap_count; i++)
			if (boot.memmap[i].type == MEMMAP_RAM && boot.memmap[i].addr == MiB)
				upper = boot.memmap[i].size / KiB;
		if (boot.mem_upper == 0 || boot.mem_upper > upper)
			return fail_reason("mem_upper %u KiB, but the memory map has %lu KiB of RAM from 1 MiB", boot.mem_upper,
					   upper);
	}
	if (boot.modules == 0)
		kprintf("bootinfo: no modules\n");
	if (boot.modules > BOOT_MODULES_MAX)
		return fail_reason("%u modules, more than the %u this kernel reads", boot.modules, BOOT_MODULES_MAX);
	u64 image_start = (u64)(uintptr_t)__image_start, image_end = (u64)(uintptr_t)__image_end;
	for (u32 i = 0; i < boot.modules; i++) {
		const struct boot_module *m = &boot.module[i];
		kprintf("bootinfo: module %u at %lx\n", i, m->addr);
		if (!in_ram(m->addr, m->size))
			return fail_reason("module %u at %lx+%lx is not inside RAM in the memory map", i, m->addr, m->size);
		if (m->addr < image_end && m->addr + m->size > image_start)
			return fail_reason("module %u at %lx+%lx overlaps the kernel at %lx-%lx", i, m->addr, m->size,
					   image_start, image_end);
		if (boot.protocol == BOOT_MULTIBOOT && m->addr % 4096)
			return fail_reason("module %u at %lx is not page-aligned, as the multiboot header asks", i, m->addr);
		u64 n = m->size < MODULE_HASH_MAX ? m->size : MODULE_HASH_MAX;
		const char *why;
		if (!map_identity_2m(m->addr, m->addr + n, &why))
			return fail_reason("cannot map module %u: %s", i, why);
		kprintf("bootinfo: module %u: %lu bytes, fnv1a of the first %lu: %08x, \"%s\"\n", i, m->size, n,
			fnv1a((const u8 *)(uintptr_t)m->addr, n), m->name);
	}
	return NULL;
}

const char *test_fwcfg(void)
{
	u8 sig[4];
	fwcfg_read(FW_CFG_SIGNATURE, sig, sizeof sig);
	if (memcmp(sig, "QEMU", 4) != 0)
		return fail_reason("no fw_cfg at port 0x510: the signature reads %02x %02x %02x %02x, not \"QEMU\"", sig[0],
				   sig[1], sig[2], sig[3]);
	u16 ncpu, maxcpu;
	u64 ram;
	fwcfg_read(FW_CFG_NB_CPUS, &ncpu, sizeof ncpu);
	fwcfg_read(FW_CFG_MAX_CPUS, &maxcpu, sizeof maxcpu);
	fwcfg_read(FW_CFG_RAM_SIZE, &ram, sizeof ram);
	kprintf("fwcfg: %u CPUs, at most %u, %lu MiB RAM\n", ncpu, maxcpu, ram / MiB);
	if (ncpu == 0 || maxcpu < ncpu)
		return fail_reason("fw_cfg CPU count %u and maximum %u do not make sense", ncpu, maxcpu);
	struct mp_cpu cpus[MAX_CPUS];
	const char *why;
	const char *source = "cpus= on the command line";
	int n = cpus_override(cpus, MAX_CPUS, &why);
	if (n == 0) {
		source = "the MP table";
		n = mp_cpus(cpus, MAX_CPUS, &why);
	}
	if (n > 0 && n != ncpu)
		return fail_reason("fw_cfg says %u CPUs, %s %d", ncpu, source, n);
	if (boot.valid && boot.ram_total) {
		u64 diff = ram > boot.ram_total ? ram - boot.ram_total : boot.ram_total - ram;
		if (diff > MiB)
			return fail_reason("fw_cfg RAM size %lx is more than 1 MiB away from the memory map's %lx", ram,
					   boot.ram_total);
	}
	const char *val;
	size_t len;
	u64 mib;
	if (cmdline_value("expect_mem", &val, &len) && parse_u64(val, len, &mib) && ram != mib * MiB)
		return fail_reason("fw_cfg RAM size is %lu MiB, expect_mem=%lu", ram / MiB, mib);
	return NULL;
}
