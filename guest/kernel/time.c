/*
 * time.c: the TSC as the only clock. Its frequency comes from the KVM
 * hypervisor leaf 0x40000010 (EAX = TSC kHz) when the VMM provides it.
 */
#include "tiny.h"

#define GUESS_KHZ 3000000UL /* used only to bound timeouts */

static u64 khz;

void time_init(void)
{
	u32 a, b, c, d;
	cpuid(1, 0, &a, &b, &c, &d);
	if (!(c & (1U << 31))) /* no hypervisor bit */
		return;
	cpuid(0x40000000, 0, &a, &b, &c, &d);
	if (a < 0x40000010 || a > 0x400000ff)
		return;
	cpuid(0x40000010, 0, &a, &b, &c, &d);
	khz = a;
}

u64 tsc_khz(void)
{
	return khz;
}

u64 tsc_khz_or_guess(void)
{
	return khz ? khz : GUESS_KHZ;
}

u64 cycles_from_us(u64 us)
{
	return us * tsc_khz_or_guess() / 1000;
}

void delay_us(u64 us)
{
	u64 end = rdtsc() + cycles_from_us(us);
	while (rdtsc() < end)
		cpu_relax();
}
