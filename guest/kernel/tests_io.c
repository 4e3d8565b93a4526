/*
 * tests_io.c: exit round trips. Each guest access to the scratch port or the
 * MMIO scratch register is one exit to the VMM and back (a "round trip").
 */
#include "tiny.h"

#define ROUNDS 10000

/* report prints the cost of one exit, in ns when the TSC frequency is known. */
static void report(const char *what, u64 cycles, u64 exits)
{
	u64 khz = tsc_khz();
	if (khz) {
		u64 ns10 = cycles / exits * 10000000 / khz; /* tenths of a ns */
		kprintf("%s: %lu.%lu ns per round trip (%lu exits)\n", what, ns10 / 10, ns10 % 10, exits);
	} else {
		kprintf("%s: %lu cycles per round trip (%lu exits)\n", what, cycles / exits, exits);
	}
}

static u32 value(u32 i)
{
	return 0x9e3779b9U * (i + 1);
}

const char *test_pio(void)
{
	u32 bad = 0, want = 0, got = 0;
	u64 t0 = rdtsc();
	for (u32 i = 0; i < ROUNDS; i++) {
		u32 v = value(i);
		outl(PORT_TEST_SCRATCH, v);
		u32 r = inl(PORT_TEST_SCRATCH);
		if (r != v && !bad++) {
			want = v;
			got = r;
		}
	}
	report("pio", rdtsc() - t0, 2 * ROUNDS);
	if (bad)
		return fail_reason("%u of %u reads of port 0xf8 did not echo; first wrote %x, read %x", bad,
				   ROUNDS, want, got);
	return NULL;
}

const char *test_mmio(void)
{
	u32 bad = 0, want = 0, got = 0;
	u64 t0 = rdtsc();
	for (u32 i = 0; i < ROUNDS; i++) {
		u32 v = value(i);
		mmio_write32(MMIO_TEST_SCRATCH, v);
		u32 r = mmio_read32(MMIO_TEST_SCRATCH);
		if (r != v && !bad++) {
			want = v;
			got = r;
		}
	}
	report("mmio", rdtsc() - t0, 2 * ROUNDS);
	if (bad)
		return fail_reason("%u of %u reads of 0xc0000000 did not echo; first wrote %x, read %x",
				   bad, ROUNDS, want, got);
	return NULL;
}
