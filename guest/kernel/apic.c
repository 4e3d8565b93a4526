/* apic.c: the local APIC in xAPIC (MMIO) mode at its default base 0xfee00000. */
#include "tiny.h"

#define LAPIC_BASE 0xfee00000UL
#define LAPIC_ID 0x020
#define LAPIC_EOI 0x0b0
#define LAPIC_SVR 0x0f0
#define LAPIC_ICR_LO 0x300
#define LAPIC_ICR_HI 0x310
#define LAPIC_LVT_TIMER 0x320
#define LAPIC_TIMER_INIT 0x380
#define LAPIC_TIMER_CURRENT 0x390
#define LAPIC_TIMER_DIV 0x3e0
#define SVR_ENABLE 0x100
#define ICR_PENDING (1U << 12)
#define LVT_MASKED (1U << 16)
#define LVT_PERIODIC (1U << 17)

static u32 rd(u32 reg)
{
	return mmio_read32(LAPIC_BASE + reg);
}

static void wr(u32 reg, u32 v)
{
	mmio_write32(LAPIC_BASE + reg, v);
}

void lapic_enable(void)
{
	wr(LAPIC_SVR, (rd(LAPIC_SVR) & ~0xffU) | SVR_ENABLE | VECTOR_SPURIOUS);
}

u32 lapic_id(void)
{
	return rd(LAPIC_ID) >> 24;
}

void lapic_eoi(void)
{
	wr(LAPIC_EOI, 0);
}

/* lapic_send_ipi writes the ICR and waits, bounded, for delivery; false if it stays pending. */
bool lapic_send_ipi(u32 apic_id, u32 icr_low)
{
	wr(LAPIC_ICR_HI, apic_id << 24);
	wr(LAPIC_ICR_LO, icr_low);
	for (int i = 0; i < 100000; i++) {
		if (!(rd(LAPIC_ICR_LO) & ICR_PENDING))
			return true;
		cpu_relax();
	}
	return false;
}

/* lapic_timer_periodic fires vector every count bus ticks (1 ns each on KVM and QEMU). */
void lapic_timer_periodic(u8 vector, u32 count)
{
	wr(LAPIC_TIMER_DIV, 0xb); /* divide by 1 */
	wr(LAPIC_LVT_TIMER, LVT_PERIODIC | vector);
	wr(LAPIC_TIMER_INIT, count);
}

void lapic_timer_stop(void)
{
	wr(LAPIC_LVT_TIMER, LVT_MASKED);
	wr(LAPIC_TIMER_INIT, 0);
}

/* lapic_timer_current reads the timer's current count (it counts down from the initial count). */
u32 lapic_timer_current(void)
{
	return rd(LAPIC_TIMER_CURRENT);
}
