/*
 * tests_io.c: exit round trips, and QEMU's pc-testdev ports. Each guest
 * access to the scratch port or the MMIO scratch register is one exit to
 * the VMM and back (a "round trip").
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

/* The IOAPIC input the pctestdev case raises: nothing else drives it, on vmm or on QEMU's pc machine. */
#define PCTEST_PIN 10

static volatile u32 pctest_hits;

static bool on_pctest_irq(struct trap_frame *f)
{
	(void)f;
	pctest_hits++;
	lapic_eoi();
	return true;
}

/* pctest_irq raises and lowers IOAPIC input PCTEST_PIN twice; it returns how many interrupts came. */
static u32 pctest_irq(void)
{
	trap_handler_t prev = trap_set_handler(VECTOR_PCTEST_IRQ, on_pctest_irq);
	lapic_enable();
	pctest_hits = 0;
	ioapic_route(PCTEST_PIN, VECTOR_PCTEST_IRQ, lapic_id());
	/* A 10 ms LAPIC timer tick bounds each hlt, so a lost interrupt cannot hang the run. */
	lapic_timer_periodic(VECTOR_APIC_TIMER, 10000000);
	for (u32 round = 1; round <= 2; round++) {
		u64 deadline = rdtsc() + cycles_from_us(1000000);
		outb(PORT_PCTEST_IRQ + PCTEST_PIN, 1);
		while (pctest_hits < round && rdtsc() < deadline)
			__asm__ volatile("sti; hlt; cli" ::: "memory");
		outb(PORT_PCTEST_IRQ + PCTEST_PIN, 0);
	}
	/* Lowering the line must not interrupt: give a late one the chance to show. */
	delay_us(20000);
	lapic_timer_stop();
	ioapic_mask(PCTEST_PIN);
	trap_set_handler(VECTOR_PCTEST_IRQ, prev);
	return pctest_hits;
}

const char *test_pctestdev(void)
{
	outl(PORT_PCTEST_ECHO, 0x12345678);
	u32 v = inl(PORT_PCTEST_ECHO);
	if (v != 0x12345678)
		return fail_reason("port 0xe0 echo: wrote 12345678, read %x", v);
	outb(PORT_PCTEST_ECHO + 1, 0xab);
	v = inl(PORT_PCTEST_ECHO);
	u16 w = inw(PORT_PCTEST_ECHO + 2);
	if (v != 0x1234ab78 || w != 0x1234)
		return fail_reason("port 0xe0 bytewise: after outb ab to 0xe1 inl reads %x (want 1234ab78), inw 0xe2 %x (want 1234)",
				   v, w);
	/* QEMU remaps the page to flush it; a VMM may ignore the write. Either way, nothing may change. */
	outl(PORT_PCTEST_FLUSH, (u32)((uintptr_t)&pctest_hits & ~0xfffUL));
	u32 hits = pctest_irq();
	kprintf("pctestdev: echo ok; two edges on IOAPIC input %u gave %u interrupts\n", PCTEST_PIN, hits);
	if (hits != 2)
		return fail_reason("raising IOAPIC input %u twice through port %x gave %u interrupts on vector 0x%x, want 2",
				   PCTEST_PIN, PORT_PCTEST_IRQ + PCTEST_PIN, hits, VECTOR_PCTEST_IRQ);
	return NULL;
}
