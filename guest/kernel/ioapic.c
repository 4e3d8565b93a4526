/*
 * ioapic.c: route one IOAPIC input at its default base 0xfec00000 (Intel
 * 82093AA datasheet): IOREGSEL at +0x00 picks a register, IOWIN at +0x10
 * reads or writes it; input n's redirection entry is registers 0x10+2n (low)
 * and 0x11+2n (high: destination APIC id in bits 24-31).
 */
#include "tiny.h"

#define IOAPIC_BASE 0xfec00000UL
#define IOREGSEL 0x00
#define IOWIN 0x10
#define REDIR_LOW(n) (0x10 + 2 * (n))
#define REDIR_HIGH(n) (0x11 + 2 * (n))
#define REDIR_MASKED (1U << 16)

static void wr(u32 reg, u32 v)
{
	mmio_write32(IOAPIC_BASE + IOREGSEL, reg);
	mmio_write32(IOAPIC_BASE + IOWIN, v);
}

/* ioapic_route sends input pin, edge-triggered and active high, as fixed vector to apic_id. */
void ioapic_route(u32 pin, u8 vector, u32 apic_id)
{
	wr(REDIR_LOW(pin), REDIR_MASKED);
	wr(REDIR_HIGH(pin), apic_id << 24);
	wr(REDIR_LOW(pin), vector);
}

void ioapic_mask(u32 pin)
{
	wr(REDIR_LOW(pin), REDIR_MASKED);
}

/* ioapic_pins returns how many redirection entries the IOAPIC has, 0 when none answers. */
u32 ioapic_pins(void)
{
	mmio_write32(IOAPIC_BASE + IOREGSEL, 0x01); /* version register */
	u32 v = mmio_read32(IOAPIC_BASE + IOWIN);
	if (v == 0xffffffff || v == 0)
		return 0;
	return ((v >> 16) & 0xff) + 1;
}

/* ioapic_set_masked masks or unmasks pin, keeping its vector and destination. */
void ioapic_set_masked(u32 pin, bool masked)
{
	mmio_write32(IOAPIC_BASE + IOREGSEL, REDIR_LOW(pin));
	u32 lo = mmio_read32(IOAPIC_BASE + IOWIN);
	wr(REDIR_LOW(pin), masked ? lo | REDIR_MASKED : lo & ~REDIR_MASKED);
}
