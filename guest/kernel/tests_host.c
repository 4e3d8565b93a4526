/*
 * tests_host.c: cases that host-side tools drive or read.
 *
 * speed: times a dec/jnz loop with the TSC, so `vmm check` can tell a KVM
 * that runs guest code natively from one that runs it through its
 * instruction emulator (hundreds of times slower).
 *
 * ctrlaltdel: waits for the VMM to send Ctrl-Alt-Del through the i8042
 * (the API's SendCtrlAltDel action) and checks the scancodes.
 *
 * blk_resize: waits for disk 0's configuration-change interrupt (the API's
 * PATCH /drives with a new image), then reads the new capacity and the new
 * image's first and last sectors.
 */
#include "tiny.h"
#include "virtio.h"

/* spin runs n iterations of `dec; jnz` (n >= 1): two instructions each. */
static void spin(u64 n)
{
	__asm__ volatile("1: dec %0\n\tjnz 1b" : "+r"(n) : : "cc");
}

/* SPEED_MS is how long the timed round must take at least: long enough
 * that the TSC reads and the exits around them do not matter. */
#define SPEED_MS 50
#define SPEED_MAX_ITERS (1ULL << 40)

const char *test_speed(void)
{
	u64 khz = tsc_khz();
	if (!khz)
		return "no TSC frequency from the hypervisor (CPUID 0x40000010): cannot time the loop";
	u64 want = khz * SPEED_MS; /* TSC cycles */
	u64 iters = 1024, cycles = 0;
	for (;;) {
		u64 t0 = rdtsc();
		spin(iters);
		cycles = rdtsc() - t0;
		if (cycles >= want || iters >= SPEED_MAX_ITERS)
			break;
		iters *= 2;
	}
	u64 us = cycles * 1000 / khz;
	if (us == 0)
		us = 1;
	/* Two instructions per iteration; millions per second, to one decimal. */
	u64 mips10 = iters * 2 * 10 / us;
	kprintf("speed: %lu iterations of dec/jnz in %lu us (%lu.%lu M instructions/s)\n", iters, us, mips10 / 10,
		mips10 % 10);
	return NULL;
}

/* i8042 registers and the controller configuration byte (CTR) bits. */
#define PORT_I8042_DATA 0x60
#define I8042_STATUS_OBF 0x01
#define I8042_CMD_WRITE_CTR 0x60
#define I8042_CTR_KBD_INT 0x01
#define I8042_CTR_SYS 0x04
#define KBD_PIN 1 /* ISA IRQ 1: IOAPIC input 1 */
#define CAD_WAIT_S 60

/* Ctrl, Alt, Del pressed and released, in scancode set 2 (the controller's
 * translation is off): what a keyboard sends for the key combination. */
static const u8 cad_set2[] = {0x14, 0x11, 0xe0, 0x71, 0xe0, 0xf0, 0x71, 0xf0, 0x11, 0xf0, 0x14};
#define CAD_LEN (sizeof cad_set2)

static volatile u8 kbd_bytes[32];
static volatile u32 kbd_count, kbd_irqs;

static bool on_kbd_irq(struct trap_frame *f)
{
	(void)f;
	kbd_irqs++;
	/* Read everything that is there: one interrupt may stand for several bytes. */
	for (int i = 0; i < 64 && (inb(PORT_I8042_CMD) & I8042_STATUS_OBF); i++) {
		u8 b = inb(PORT_I8042_DATA);
		if (kbd_count < sizeof kbd_bytes)
			kbd_bytes[kbd_count] = b;
		kbd_count++;
	}
	lapic_eoi();
	return true;
}

const char *test_ctrlaltdel(void)
{
	/* Keyboard interrupt on, translation off: the bytes arrive as set 2. */
	outb(PORT_I8042_CMD, I8042_CMD_WRITE_CTR);
	outb(PORT_I8042_DATA, I8042_CTR_KBD_INT | I8042_CTR_SYS);
	for (int i = 0; i < 64 && (inb(PORT_I8042_CMD) & I8042_STATUS_OBF); i++)
		(void)inb(PORT_I8042_DATA); /* stale output */
	trap_handler_t prev = trap_set_handler(VECTOR_KBD_IRQ, on_kbd_irq);
	lapic_enable();
	kbd_count = kbd_irqs = 0;
	ioapic_route(KBD_PIN, VECTOR_KBD_IRQ, lapic_id());
	lapic_timer_periodic(VECTOR_APIC_TIMER, 10000000); /* bounds each hlt */
	kprintf("ctrlaltdel: waiting for Ctrl-Alt-Del on the i8042 (IRQ 1), up to %u s\n", CAD_WAIT_S);
	u64 deadline = rdtsc() + cycles_from_us(CAD_WAIT_S * 1000000ULL);
	u64 settle = 0;
	while (rdtsc() < deadline) {
		__asm__ volatile("sti; hlt; cli" ::: "memory");
		if (kbd_count >= CAD_LEN) {
			/* Give a byte too many the chance to show. */
			if (!settle)
				settle = rdtsc() + cycles_from_us(50000);
			else if (rdtsc() >= settle)
				break;
		}
	}
	lapic_timer_stop();
	ioapic_mask(KBD_PIN);
	trap_set_handler(VECTOR_KBD_IRQ, prev);
	u32 n = kbd_count;
	kprintf("ctrlaltdel: %u bytes in %u interrupts:", n, kbd_irqs);
	for (u32 i = 0; i < n && i < sizeof kbd_bytes; i++)
		kprintf(" %x", kbd_bytes[i]);
	kprintf("\n");
	if (n == 0)
		return fail_reason("no keyboard byte within %u s", CAD_WAIT_S);
	if (n != CAD_LEN)
		return fail_reason("%u bytes, want the %u of Ctrl-Alt-Del pressed and released in set 2", n,
				   (u32)CAD_LEN);
	for (u32 i = 0; i < CAD_LEN; i++)
		if (kbd_bytes[i] != cad_set2[i])
			return fail_reason("byte %u is %x, want %x", i, kbd_bytes[i], cad_set2[i]);
	return NULL;
}

#define RESIZE_WAIT_S 60
#define CFG_CAPACITY 0 /* struct virtio_blk_config.capacity */

static const char *resize_body(void)
{
	if (blk_ndisks < 1)
		return "needs a disk (virtio_mmio.device=... on the command line)";
	struct blk_dev *d = &blk_disks[0];
	u64 before = d->capacity, irqs = d->config_irqs;
	u32 gen = vmmio_rd(d->m, VMMIO_CONFIG_GENERATION);
	kprintf("blk_resize: disk 0 has %lu sectors; waiting for a configuration change, up to %u s\n", before,
		RESIZE_WAIT_S);
	lapic_timer_periodic(VECTOR_APIC_TIMER, 10000000); /* bounds each hlt */
	u64 deadline = rdtsc() + cycles_from_us(RESIZE_WAIT_S * 1000000ULL);
	while (d->config_irqs == irqs && rdtsc() < deadline)
		__asm__ volatile("sti; hlt; cli" ::: "memory");
	lapic_timer_stop();
	if (d->config_irqs == irqs)
		return fail_reason("no configuration-change interrupt within %u s", RESIZE_WAIT_S);
	u64 after;
	if (!vmmio_cfg64(d->m, CFG_CAPACITY, &after))
		return "ConfigGeneration kept changing while capacity was read";
	u32 gen2 = vmmio_rd(d->m, VMMIO_CONFIG_GENERATION);
	if (gen2 == gen)
		return fail_reason("a configuration-change interrupt came but ConfigGeneration stayed %u", gen);
	if (after == 0)
		return "the new capacity is 0 sectors";
	d->capacity = after;
	u8 *first = bump_alloc(512, 512), *last = bump_alloc(512, 512);
	if (!first || !last)
		return "out of memory for two sectors";
	const char *why = blk_io(d, BLK_T_IN, 0, first, 512);
	if (!why)
		why = blk_io(d, BLK_T_IN, after - 1, last, 512);
	if (why)
		return why;
	kprintf("blk_resize: %lu -> %lu sectors, generation %u -> %u; first sector begins %x %x %x %x, last sector "
		"begins %x %x %x %x\n",
		before, after, gen, gen2, first[0], first[1], first[2], first[3], last[0], last[1], last[2], last[3]);
	return NULL;
}

const char *test_blk_resize(void)
{
	u64 mark = bump_mark();
	const char *why = blk_open_all();
	if (!why)
		why = resize_body();
	if (blk_close_all())
		bump_release(mark);
	else if (!why)
		why = "a disk did not finish its reset at the end of the case";
	return why;
}
