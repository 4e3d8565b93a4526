/* tests_boot.c: cases about what the VMM handed over at boot: serial, command line, memory map. */
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
		return "no PVH start_info, so no command line";
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
		return "no PVH start_info (magic 0x336ec578 not found at EBX)";
	if (boot.memmap_count == 0)
		return fail_reason("start_info version %u has no memory map", boot.version);
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
