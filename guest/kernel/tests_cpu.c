/* tests_cpu.c: cases about the virtual CPUs: exceptions, SMP bring-up, irqfd interrupts. */
#include "tiny.h"

/* An address no page table maps: PML4 slot 128 stays empty. */
#define UNMAPPED_HIGH 0x0000400000001238UL
/* Inside 2–3 GiB, which boot.S leaves unmapped unless RAM is there. */
#define UNMAPPED_LOW 0xA0000238UL

#define ICR_INIT_ASSERT 0x0000c500   /* INIT, level triggered, assert */
#define ICR_INIT_DEASSERT 0x00008500 /* INIT, level triggered, de-assert */
#define ICR_STARTUP 0x00004600       /* start-up IPI; low byte is the vector */

static volatile u32 ud_hits, pf_hits;
static volatile u64 pf_cr2, pf_err;
static volatile u32 irq_hits, timer_ticks;

static bool on_ud(struct trap_frame *f)
{
	if (f->rip != (u64)(uintptr_t)ud2_insn)
		return false;
	ud_hits++;
	f->rip += 2; /* ud2 is 0f 0b */
	return true;
}

static bool on_pf(struct trap_frame *f)
{
	if (f->rip != (u64)(uintptr_t)probe_read_insn)
		return false;
	pf_hits++;
	pf_cr2 = read_cr2();
	pf_err = f->error;
	f->rip = (u64)(uintptr_t)probe_read_fixup;
	return true;
}

static bool on_test_irq(struct trap_frame *f)
{
	(void)f;
	irq_hits++;
	lapic_eoi();
	return true;
}

static bool on_timer(struct trap_frame *f)
{
	(void)f;
	timer_ticks++;
	lapic_eoi();
	return true;
}

void tests_cpu_init(void);
void tests_cpu_init(void)
{
	trap_set_handler(6, on_ud);
	trap_set_handler(14, on_pf);
	trap_set_handler(VECTOR_TEST_IRQ, on_test_irq);
	trap_set_handler(VECTOR_APIC_TIMER, on_timer);
}

static const char *expect_pf(u64 addr)
{
	volatile int faulted = 0;
	u32 before = pf_hits;
	probe_read(addr, &faulted);
	if (!faulted || pf_hits != before + 1)
		return fail_reason("read of unmapped %lx did not reach the #PF handler", addr);
	if (pf_cr2 != addr)
		return fail_reason("#PF for %lx reported CR2 %lx", addr, pf_cr2);
	if (pf_err & 0x7) /* P, W/R, U/S: not-present read in ring 0 */
		return fail_reason("#PF for %lx has error code %lx, want a not-present supervisor read",
				   addr, pf_err);
	return NULL;
}

const char *test_exceptions(void)
{
	u32 before = ud_hits;
	ud2_probe();
	if (ud_hits != before + 1)
		return "ud2 did not reach the #UD handler";

	volatile int faulted = 0;
	static volatile u64 known = 0x1122334455667788UL;
	if (probe_read((u64)(uintptr_t)&known, &faulted) != known || faulted)
		return "reading mapped memory through the probe failed";

	const char *why = expect_pf(UNMAPPED_HIGH);
	if (why)
		return why;
	if (!is_mapped(UNMAPPED_LOW))
		return expect_pf(UNMAPPED_LOW);
	return NULL;
}

const char *test_smp(void)
{
	struct mp_cpu cpus[MAX_CPUS];
	const char *why;
	int n = cpus_override(cpus, MAX_CPUS, &why);
	if (n == 0)
		n = mp_cpus(cpus, MAX_CPUS, &why);
	if (n < 0)
		return why;
	if (n > MAX_CPUS)
		return fail_reason("MP table lists %d CPUs; this kernel handles %d", n, MAX_CPUS);
	lapic_enable();
	u32 me = lapic_id();
	bool listed = false;
	for (int i = 0; i < n; i++)
		if (cpus[i].apic_id == me) {
			listed = true;
			if (!cpus[i].bsp)
				return fail_reason("MP table entry for the BSP (APIC id %u) lacks the BSP flag", me);
		}
	if (!listed)
		return fail_reason("MP table does not list the BSP's APIC id %u", me);
	kprintf("smp: %d CPUs, BSP is APIC id %u\n", n, me);

	memcpy((void *)(uintptr_t)AP_TRAMPOLINE_PADDR, ap_tramp_start,
	       (size_t)(ap_tramp_end - ap_tramp_start));
	__atomic_store_n(&ap_next_slot, 0, __ATOMIC_SEQ_CST);
	__atomic_store_n(&ap_checked_in, 0, __ATOMIC_SEQ_CST);

	u32 started = 0;
	for (int i = 0; i < n; i++) {
		u32 id = cpus[i].apic_id;
		if (id == me)
			continue;
		/* INIT-SIPI-SIPI, with the MP spec's delays. */
		if (!lapic_send_ipi(id, ICR_INIT_ASSERT))
			return fail_reason("INIT to APIC id %u stayed pending", id);
		delay_us(10000);
		lapic_send_ipi(id, ICR_INIT_DEASSERT);
		for (int s = 0; s < 2; s++) {
			if (!lapic_send_ipi(id, ICR_STARTUP | AP_SIPI_VECTOR))
				return fail_reason("SIPI to APIC id %u stayed pending", id);
			delay_us(200);
		}
		started++;
	}

	u64 deadline = rdtsc() + cycles_from_us(3000000);
	while (__atomic_load_n(&ap_checked_in, __ATOMIC_ACQUIRE) < started && rdtsc() < deadline)
		cpu_relax();
	u32 in = __atomic_load_n(&ap_checked_in, __ATOMIC_ACQUIRE);
	kprintf("smp: %u of %u APs checked in\n", in, started);
	if (in != started)
		return fail_reason("only %u of %u APs checked in within 3 s", in, started);
	return NULL;
}

/*
 * test_apfail makes one AP take an exception nobody expects, after it checks
 * in. The case itself passes once the AP has reported it; the run must then
 * end as failed, which is what this case exists to show (it is not in all).
 */
const char *test_apfail(void)
{
	u32 before = __atomic_load_n(&ap_failures, __ATOMIC_ACQUIRE);
	__atomic_store_n(&ap_fault_next, 1, __ATOMIC_RELEASE);
	const char *why = test_smp();
	if (why)
		return why;
	u64 deadline = rdtsc() + cycles_from_us(3000000);
	while (__atomic_load_n(&ap_failures, __ATOMIC_ACQUIRE) == before && rdtsc() < deadline)
		cpu_relax();
	if (__atomic_load_n(&ap_failures, __ATOMIC_ACQUIRE) == before)
		return "no AP reported the ud2 it was told to execute (needs 2 or more CPUs)";
	return NULL;
}

const char *test_irqfd(void)
{
	lapic_enable();
	irq_hits = 0;
	timer_ticks = 0;
	/* A 10 ms LAPIC timer tick bounds each hlt, so a lost interrupt cannot hang the run. */
	lapic_timer_periodic(VECTOR_APIC_TIMER, 10000000);
	u64 start = rdtsc();
	u64 deadline = start + cycles_from_us(2000000);
	outl(PORT_TEST_IRQ, 1);
	while (!irq_hits && rdtsc() < deadline)
		__asm__ volatile("sti; hlt; cli" ::: "memory");
	u64 took = rdtsc() - start;
	lapic_timer_stop();
	if (!irq_hits)
		return fail_reason("no vector 0x40 within 2 s of the write to port 0xfc (%u timer ticks)",
				   timer_ticks);
	kprintf("irqfd: vector 0x40 woke the halted BSP after %lu us\n",
		took * 1000 / tsc_khz_or_guess());
	return NULL;
}
