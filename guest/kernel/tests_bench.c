/*
 * tests_bench.c: the cases scripts/bench runs under vmm, under QEMU microvm
 * and under its C floor program, so all three run the same guest code:
 *
 *   none     boot cost alone: boot.S handles test=none before anything else;
 *            this entry only makes "none" a known name inside a longer list.
 *   latency  exit round trips to an unclaimed port and an unclaimed MMIO
 *            address, timed with the TSC.
 *   idle     halts with interrupts on (a 10 ms LAPIC timer) until a byte
 *            arrives on the serial port as an interrupt (IRQ 4 through the
 *            IOAPIC), for the VMM's memory figure: while idle, the guest
 *            makes no exit to the VMM at all.
 *
 * None of them is part of test=all.
 */
#include "tiny.h"

#define LATENCY_ROUNDS 10000 /* each round is one write and one read: two exits */
#define IDLE_TICK_NS 10000000 /* LAPIC timer period; KVM's APIC bus runs at 1 GHz */
#define UART_RBR 0
#define UART_IER 1
#define UART_MCR 4
#define UART_LSR 5
#define LSR_DR 0x01
#define IER_RDA 0x01 /* interrupt when received data is available */
#define MCR_OUT2 0x08
#define COM1_IRQ 4

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

static volatile u32 idle_ticks, rx_bytes;
static volatile u8 rx_first;

static bool on_idle_tick(struct trap_frame *f)
{
	(void)f;
	idle_ticks++;
	lapic_eoi();
	return true;
}

/* on_serial_rx empties the receiver (which lowers the UART's interrupt) and keeps the first byte. */
static bool on_serial_rx(struct trap_frame *f)
{
	(void)f;
	for (int i = 0; i < 64 && (inb(PORT_COM1 + UART_LSR) & LSR_DR); i++) {
		u8 c = inb(PORT_COM1 + UART_RBR);
		if (!rx_bytes++)
			rx_first = c;
	}
	lapic_eoi();
	return true;
}

const char *test_idle(void)
{
	/* Whatever arrived before the case started does not end it. */
	for (int i = 0; i < 64 && (inb(PORT_COM1 + UART_LSR) & LSR_DR); i++)
		(void)inb(PORT_COM1 + UART_RBR);
	trap_handler_t old_tick = trap_set_handler(VECTOR_APIC_TIMER, on_idle_tick);
	trap_handler_t old_rx = trap_set_handler(VECTOR_SERIAL_RX, on_serial_rx);
	idle_ticks = rx_bytes = 0;
	lapic_enable();
	ioapic_route(COM1_IRQ, VECTOR_SERIAL_RX, lapic_id());
	outb(PORT_COM1 + UART_MCR, MCR_OUT2); /* OUT2 gates the UART's IRQ on a PC */
	outb(PORT_COM1 + UART_IER, IER_RDA);
	lapic_timer_periodic(VECTOR_APIC_TIMER, IDLE_TICK_NS);
	kprintf("idle: halting with interrupts on until a byte arrives on the serial port\n");
	/*
	 * Nothing here leaves the guest for the VMM: the timer tick and its EOI
	 * stay in the host kernel, and the byte arrives as an interrupt.
	 */
	while (!rx_bytes)
		__asm__ volatile("sti; hlt; cli" ::: "memory");
	lapic_timer_stop();
	outb(PORT_COM1 + UART_IER, 0);
	ioapic_mask(COM1_IRQ);
	trap_set_handler(VECTOR_SERIAL_RX, old_rx);
	trap_set_handler(VECTOR_APIC_TIMER, old_tick);
	kprintf("idle: byte %x after %u timer ticks\n", rx_first, idle_ticks);
	return NULL;
}
