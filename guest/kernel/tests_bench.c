/*
 * tests_bench.c: the cases scripts/bench runs under vmm, under QEMU microvm
 * and under its C floor program, so all three run the same guest code:
 *
 *   none     boot cost alone: boot.S handles test=none before anything else;
 *            this entry only makes "none" a known name inside a longer list.
 *   latency  exit round trips to an unclaimed port and an unclaimed MMIO
 *            address, timed with the TSC.
 *   idle     halts with interrupts on (a 10 ms LAPIC timer) until a byte
 *            arrives on the serial port, for the VMM's memory figure.
 *
 * None of them is part of test=all.
 */
#include "tiny.h"

#define LATENCY_ROUNDS 10000 /* each round is one write and one read: two exits */
#define IDLE_TICK_NS 10000000 /* LAPIC timer period; KVM's APIC bus runs at 1 GHz */
#define UART_RBR 0
#define UART_LSR 5
#define LSR_DR 0x01

const char *test_none(void)
{
	return NULL;
}

/*
 * latency_report prints one figure as "latency: KIND X ns per exit (N exits,
 * reads returned V)", or cycles when the hypervisor gives no TSC frequency.
 * V shows what the VMM answers for an unclaimed address: hardware and vmm
 * return all ones; QEMU returns 0 for unassigned MMIO.
 */
static void latency_report(const char *kind, u64 cycles, u64 exits, u32 read)
{
	u64 khz = tsc_khz();
	if (khz) {
		u64 ns10 = cycles * 10000000 / khz / exits; /* tenths of a ns */
		kprintf("latency: %s %lu.%lu ns per exit (%lu exits, reads returned %x)\n", kind,
			ns10 / 10, ns10 % 10, exits, read);
	} else {
		kprintf("latency: %s %lu cycles per exit (%lu exits, reads returned %x)\n", kind,
			cycles / exits, exits, read);
	}
}

const char *test_latency(void)
{
	u32 read = 0;
	u64 t0 = rdtsc();
	for (u32 i = 0; i < LATENCY_ROUNDS; i++) {
		outl(PORT_BENCH_UNCLAIMED, i);
		read = inl(PORT_BENCH_UNCLAIMED);
	}
	latency_report("pio", rdtsc() - t0, 2 * LATENCY_ROUNDS, read);

	t0 = rdtsc();
	for (u32 i = 0; i < LATENCY_ROUNDS; i++) {
		mmio_write32(MMIO_BENCH_UNCLAIMED, i);
		read = mmio_read32(MMIO_BENCH_UNCLAIMED);
	}
	latency_report("mmio", rdtsc() - t0, 2 * LATENCY_ROUNDS, read);
	return NULL;
}

static volatile u32 idle_ticks;

static bool on_idle_tick(struct trap_frame *f)
{
	(void)f;
	idle_ticks++;
	lapic_eoi();
	return true;
}

const char *test_idle(void)
{
	/* Whatever arrived before the case started does not end it. */
	for (int i = 0; i < 64 && (inb(PORT_COM1 + UART_LSR) & LSR_DR); i++)
		(void)inb(PORT_COM1 + UART_RBR);
	trap_handler_t old = trap_set_handler(VECTOR_APIC_TIMER, on_idle_tick);
	idle_ticks = 0;
	lapic_enable();
	lapic_timer_periodic(VECTOR_APIC_TIMER, IDLE_TICK_NS);
	kprintf("idle: halting with interrupts on until a byte arrives on the serial port\n");
	/* One exit per tick (the LSR read); the halt itself stays in the host kernel. */
	while (!(inb(PORT_COM1 + UART_LSR) & LSR_DR))
		__asm__ volatile("sti; hlt; cli" ::: "memory");
	u8 c = inb(PORT_COM1 + UART_RBR);
	lapic_timer_stop();
	trap_set_handler(VECTOR_APIC_TIMER, old);
	kprintf("idle: byte %x after %u timer ticks\n", c, idle_ticks);
	return NULL;
}
