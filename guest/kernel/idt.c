/*
 * idt.c: the interrupt descriptor table, shared by every CPU, and the C side
 * of trap dispatch. A vector's handler returns true when it dealt with the
 * trap; anything unhandled is reported and ends the run as a failure (on an
 * AP: that AP halts and the BSP counts the failure when the run ends).
 */
#include "tiny.h"

struct idt_gate {
	u16 off_lo;
	u16 sel;
	u8 ist;
	u8 type;
	u16 off_mid;
	u32 off_hi;
	u32 zero;
} __attribute__((packed));

struct idt_ptr {
	u16 limit;
	u64 base;
} __attribute__((packed));

#define SEL_CODE64 0x08
#define GATE_INTERRUPT 0x8e /* present, DPL 0, 64-bit interrupt gate */

extern const u64 trap_stubs[37 + VIRTIO_VECTORS + 2];

static struct idt_gate idt[256] __attribute__((aligned(16)));
static trap_handler_t handlers[256];
static u32 bsp_id;

static const char *const names[32] = {
	"#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM", "#DF", "CSO", "#TS",
	"#NP", "#SS", "#GP", "#PF", "rsvd", "#MF", "#AC", "#MC", "#XM", "#VE", "#CP",
};

static void set_gate(u8 vec, u64 stub)
{
	idt[vec] = (struct idt_gate){
		.off_lo = (u16)stub,
		.sel = SEL_CODE64,
		.type = GATE_INTERRUPT,
		.off_mid = (u16)(stub >> 16),
		.off_hi = (u32)(stub >> 32),
	};
}

void idt_init(void)
{
	for (int v = 0; v < 32; v++)
		set_gate((u8)v, trap_stubs[v]);
	set_gate(VECTOR_TEST_IRQ, trap_stubs[32]);
	set_gate(VECTOR_APIC_TIMER, trap_stubs[33]);
	set_gate(VECTOR_SPURIOUS, trap_stubs[34]);
	set_gate(VECTOR_REPAIR_INTN, trap_stubs[35]);
	set_gate(VECTOR_PCTEST_IRQ, trap_stubs[36]);
	for (int i = 0; i < VIRTIO_VECTORS; i++)
		set_gate((u8)(VECTOR_VIRTIO_BASE + i), trap_stubs[37 + i]);
	set_gate(VECTOR_KBD_IRQ, trap_stubs[37 + VIRTIO_VECTORS]);
	set_gate(VECTOR_SERIAL_RX, trap_stubs[37 + VIRTIO_VECTORS + 1]);
	bsp_id = lapic_id();
	idt_load();
}

void idt_load(void)
{
	struct idt_ptr p = {sizeof idt - 1, (u64)(uintptr_t)idt};
	__asm__ volatile("lidt %0" : : "m"(p));
}

/* trap_set_handler installs h and returns the previous handler, so a case can restore it. */
trap_handler_t trap_set_handler(u8 vector, trap_handler_t h)
{
	return __atomic_exchange_n(&handlers[vector], h, __ATOMIC_ACQ_REL);
}

void trap_dispatch(struct trap_frame *f);
void trap_dispatch(struct trap_frame *f)
{
	u8 v = (u8)f->vector;
	trap_handler_t h = __atomic_load_n(&handlers[v], __ATOMIC_ACQUIRE);
	if (h && h(f))
		return;
	if (v == VECTOR_SPURIOUS)
		return; /* spurious interrupts need no EOI */
	u32 cpu = lapic_id();
	kprintf_nolock("FAIL %s: unexpected %s (vector %u) on cpu %u at rip %lx, error %lx, cr2 %lx\n",
		       current_test ? current_test : "boot", v < 32 && names[v] ? names[v] : "interrupt",
		       (unsigned)v, cpu, f->rip, f->error, read_cr2());
	if (cpu != bsp_id) {
		__atomic_add_fetch(&ap_failures, 1, __ATOMIC_ACQ_REL); /* finish() counts it */
		halt_forever();
	}
	finish(1);
}
