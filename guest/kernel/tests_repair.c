/*
 * tests_repair.c: cases for the instructions kvm_pvm cannot emulate and the
 * VMM completes itself (vmm/repair.go): int3, int n, fwait, clac, stac. The
 * instructions live in repair_sites.S; here are the handlers and the checks.
 * On hardware or QEMU the same cases pass natively, so they also show that
 * the VMM's repair matches what a CPU does.
 */
#include "tiny.h"

#define RFLAGS_AC (1UL << 18)
#define CPUID7_EBX_SMAP (1U << 20)
#define SEL_CODE64 0x08

/* What one handler saw: how often it ran and the last frame's RIP/CS/vector. */
struct seen {
	volatile u32 hits;
	volatile u64 rip, cs, vector;
};

static struct seen bp_seen, intn_seen, ud_seen;

/*
 * record notes a trap, and if RIP is not where the CPU should have left it,
 * resumes at `after` anyway so a wrong repair fails the case instead of
 * looping or running off into the middle of an instruction.
 */
static void record(struct seen *s, struct trap_frame *f, char *after)
{
	s->hits++;
	s->rip = f->rip;
	s->cs = f->cs;
	s->vector = f->vector;
	f->rip = (u64)(uintptr_t)after;
}

static bool on_bp(struct trap_frame *f)
{
	record(&bp_seen, f, repair_int3_after);
	return true;
}

static bool on_intn(struct trap_frame *f)
{
	record(&intn_seen, f, repair_intn_after); /* a software interrupt: no EOI */
	return true;
}

void tests_repair_init(void);
void tests_repair_init(void)
{
	trap_set_handler(3, on_bp);
	trap_set_handler(VECTOR_REPAIR_INTN, on_intn);
}

/* check compares what a handler saw with one delivery at RIP `after`. */
static const char *check(const char *what, const struct seen *s, u32 before, u64 vector,
			 char *after)
{
	u32 hits = s->hits - before;
	if (hits != 1)
		return fail_reason("%s: handler ran %u times, want once", what, hits);
	if (s->vector != vector)
		return fail_reason("%s: handler saw vector %lu, want %lu", what, s->vector, vector);
	if (s->rip != (u64)(uintptr_t)after)
		return fail_reason("%s: saved RIP %lx, want %lx (right after the instruction)", what,
				   s->rip, (u64)(uintptr_t)after);
	if (s->cs != SEL_CODE64)
		return fail_reason("%s: saved CS %lx, want %x", what, s->cs, SEL_CODE64);
	return NULL;
}

const char *test_int3(void)
{
	u32 before = bp_seen.hits;
	u32 went_on = repair_int3();
	const char *why = check("int3", &bp_seen, before, 3, repair_int3_after);
	if (why)
		return why;
	if (went_on != 1)
		return "int3: execution did not continue after the instruction";
	return NULL;
}

const char *test_intn(void)
{
	u32 before = intn_seen.hits;
	u32 went_on = repair_intn();
	const char *why = check("int $0x42", &intn_seen, before, VECTOR_REPAIR_INTN,
				repair_intn_after);
	if (why)
		return why;
	if (went_on != 1)
		return "int $0x42: execution did not continue after iretq";
	return NULL;
}

const char *test_fwait(void)
{
	if (repair_fwait() != 1)
		return "fwait: the instruction after it did not run";
	return NULL;
}

/*
 * on_ud_clacstac catches a #UD from clac/stac on a CPU without SMAP (real
 * hardware or QEMU's default model) and skips the 3-byte instruction.
 */
static trap_handler_t ud_prev;
static bool on_ud_clacstac(struct trap_frame *f)
{
	if (f->rip == (u64)(uintptr_t)repair_stac_site) {
		record(&ud_seen, f, repair_stac_after);
		return true;
	}
	if (f->rip == (u64)(uintptr_t)repair_clac_site) {
		record(&ud_seen, f, repair_clac_after);
		return true;
	}
	return ud_prev && ud_prev(f);
}

static bool cpu_has_smap(void)
{
	u32 a, b, c, d;
	cpuid(0, 0, &a, &b, &c, &d);
	if (a < 7)
		return false;
	cpuid(7, 0, &a, &b, &c, &d);
	return b & CPUID7_EBX_SMAP;
}

/*
 * test_clacstac: stac must set RFLAGS.AC and clac clear it, at CPL 0. Without
 * SMAP in CPUID a CPU raises #UD instead; the VMM's repair does not look at
 * CPUID, so either outcome passes then, as long as both instructions behave
 * the same way. With SMAP advertised, only the AC effect passes.
 */
const char *test_clacstac(void)
{
	bool smap = cpu_has_smap();
	ud_prev = trap_set_handler(6, on_ud_clacstac);
	u32 ud_before = ud_seen.hits;
	u64 after_stac = repair_stac();
	u32 stac_ud = ud_seen.hits - ud_before;
	u64 after_clac = repair_clac();
	u32 clac_ud = ud_seen.hits - ud_before - stac_ud;
	trap_set_handler(6, ud_prev);

	kprintf("clacstac: SMAP %s in CPUID; after stac AC=%lu%s, after clac AC=%lu%s\n",
		smap ? "set" : "clear", (after_stac & RFLAGS_AC) >> 18, stac_ud ? " (#UD)" : "",
		(after_clac & RFLAGS_AC) >> 18, clac_ud ? " (#UD)" : "");
	if (stac_ud || clac_ud) {
		if (smap)
			return "clac/stac raised #UD although CPUID advertises SMAP";
		if (stac_ud != 1 || clac_ud != 1)
			return fail_reason("without SMAP stac raised %u #UD and clac %u, want 1 each",
					   stac_ud, clac_ud);
		if (ud_seen.rip != (u64)(uintptr_t)repair_clac_site)
			return fail_reason("#UD from clac saved RIP %lx, want %lx (the instruction)",
					   ud_seen.rip, (u64)(uintptr_t)repair_clac_site);
		return NULL;
	}
	if (!(after_stac & RFLAGS_AC))
		return fail_reason("stac left RFLAGS.AC clear (RFLAGS %lx)", after_stac);
	if (after_clac & RFLAGS_AC)
		return fail_reason("clac left RFLAGS.AC set (RFLAGS %lx)", after_clac);
	return NULL;
}
