/*
 * main.c: boot sequence and the test runner. The command line picks cases
 * (test=NAME[,NAME...] or test=all); without test= the kernel runs a short
 * demo of the cases that need nothing VMM-specific. Either way it ends by
 * writing 0 (all passed) or 1 to the test-exit port, then asking the i8042
 * for a reset, then halting.
 */
#include "tiny.h"

void kmain(u32 info_paddr, u32 protocol, u32 magic);
void tests_cpu_init(void);
void tests_repair_init(void);

struct test {
	const char *name;
	const char *(*run)(void);
	bool in_all;  /* part of test=all */
	bool in_demo; /* safe on any PVH host: runs when there is no test= */
};

static const struct test tests[] = {
	{"serial", test_serial, true, true},
	{"cmdline", test_cmdline, true, true},
	/* Before memory, which overwrites the top RAM page, where an initrd may end. */
	{"bootinfo", test_bootinfo, true, false},
	{"memory", test_memory, true, true},
	{"exceptions", test_exceptions, true, true},
	{"smp", test_smp, true, true},
	{"irqfd", test_irqfd, true, false},
	{"pio", test_pio, true, false},
	{"mmio", test_mmio, true, false},
	{"fwcfg", test_fwcfg, true, false},
	{"pctestdev", test_pctestdev, true, false},
	/* kvm_pvm needs the VMM's repair for these, so not in the demo. */
	{"int3", test_int3, true, false},
	{"intn", test_intn, true, false},
	{"fwait", test_fwait, true, false},
	{"clacstac", test_clacstac, true, false},
	{"fail", test_fail, false, false},
	{"apfail", test_apfail, false, false},
	{"shutdown", test_shutdown, false, false},
	/* virtio-blk: need disks (virtio_mmio.device=...); test=blk runs BLK_CASES. */
	{"blk_rw", test_blk_rw, false, false},
	{"blk_flush", test_blk_flush, false, false},
	{"blk_id", test_blk_id, false, false},
	{"blk_discard", test_blk_discard, false, false},
	{"blk_zeroes", test_blk_zeroes, false, false},
	{"blk_ro", test_blk_ro, false, false},
	{"blk_multiseg", test_blk_multiseg, false, false},
	{"blk_indirect", test_blk_indirect, false, false},
	{"blk_qd64", test_blk_qd64, false, false},
	{"blk_reset", test_blk_reset, false, false},
	{"blk_perf", test_blk_perf, false, false},
	{"blk_crash", test_blk_crash, false, false},
	/* Host tools: vmm check reads speed's line; ctrlaltdel and blk_resize wait for the API. */
	{"speed", test_speed, false, false},
	{"ctrlaltdel", test_ctrlaltdel, false, false},
	{"blk_resize", test_blk_resize, false, false},
	/* Hostile virtio-blk drivers: test=blk_hostile runs BLK_HOSTILE_CASES. */
	{"blk_h_ring", test_blk_h_ring, false, false},
	{"blk_h_chain", test_blk_h_chain, false, false},
	{"blk_h_indirect", test_blk_h_indirect, false, false},
	{"blk_h_noindirect", test_blk_h_noindirect, false, false},
	{"blk_h_memory", test_blk_h_memory, false, false},
	{"blk_h_status", test_blk_h_status, false, false},
	{"blk_h_header", test_blk_h_header, false, false},
	{"blk_h_bounds", test_blk_h_bounds, false, false},
	{"blk_h_unsupp", test_blk_h_unsupp, false, false},
	{"blk_h_ro", test_blk_h_ro, false, false},
	{"blk_h_layout", test_blk_h_layout, false, false},
	{"blk_h_liveregs", test_blk_h_liveregs, false, false},
	{"blk_h_nofeatok", test_blk_h_nofeatok, false, false},
	{"blk_h_flood", test_blk_h_flood, false, false},
	/* For scripts/bench (tests_bench.c); test=none alone never gets here (boot.S). */
	{"none", test_none, false, false},
	{"latency", test_latency, false, false},
	{"idle", test_idle, false, false},
};
#define NTESTS (sizeof tests / sizeof tests[0])

const char *current_test;
static int passed, failed;

const char *fail_reason(const char *fmt, ...)
{
	static char why[256];
	va_list ap;
	va_start(ap, fmt);
	vformat(why, sizeof why, fmt, ap);
	va_end(ap);
	return why;
}

const char *test_fail(void)
{
	return "deliberate failure";
}

/*
 * test_shutdown can never print PASS: a reset that works leaves no guest to
 * print it. The VMM's side (status 0 from the i8042, no summary line)
 * proves the reset; the guest only reports the reset that did not happen.
 */
const char *test_shutdown(void)
{
	kprintf("shutdown: asking the i8042 for a reset (0xfe to port 0x64)\n");
	outb(PORT_I8042_CMD, 0xfe);
	delay_us(500000);
	return "i8042 reset (0xfe to port 0x64) did not stop the machine";
}

static void run(const struct test *t)
{
	current_test = t->name;
	const char *why = t->run();
	current_test = NULL;
	if (why) {
		kprintf("FAIL %s: %s\n", t->name, why);
		failed++;
	} else {
		kprintf("PASS %s\n", t->name);
		passed++;
	}
}

/* run_list runs the comma-separated names in list[0:len]; "all" expands in place. */
static void run_list(const char *list, size_t len)
{
	if (len == 0) {
		kprintf("FAIL test: test= names no cases\n");
		failed++;
		return;
	}
	size_t i = 0;
	while (i <= len) {
		size_t j = i;
		while (j < len && list[j] != ',')
			j++;
		const char *name = list + i;
		size_t n = j - i;
		if (str_eq_n(name, n, "all")) {
			for (size_t k = 0; k < NTESTS; k++)
				if (tests[k].in_all)
					run(&tests[k]);
		} else if (str_eq_n(name, n, "blk")) {
			run_list(BLK_CASES, strlen(BLK_CASES));
		} else if (str_eq_n(name, n, "blk_hostile")) {
			run_list(BLK_HOSTILE_CASES, strlen(BLK_HOSTILE_CASES));
		} else if (n > 0) {
			bool found = false;
			for (size_t k = 0; k < NTESTS && !found; k++)
				if (str_eq_n(name, n, tests[k].name)) {
					run(&tests[k]);
					found = true;
				}
			if (!found) {
				char buf[40];
				size_t m = n < sizeof buf - 1 ? n : sizeof buf - 1;
				memcpy(buf, name, m);
				buf[m] = '\0';
				kprintf("FAIL %s: unknown test\n", buf);
				failed++;
			}
		}
		i = j + 1;
	}
}

static void demo(void)
{
	struct mp_cpu cpus[MAX_CPUS];
	const char *why;
	int n = cpus_override(cpus, MAX_CPUS, &why);
	if (n == 0)
		n = mp_cpus(cpus, MAX_CPUS, &why);
	kprintf("vmm tiny kernel: booted on %d vCPUs, %lu MiB\n", n > 0 ? n : 1,
		(boot.ram_total + MiB / 2) / MiB);
	for (size_t k = 0; k < NTESTS; k++)
		if (tests[k].in_demo)
			run(&tests[k]);
}

void finish(int fail)
{
	/* An AP that took an unexpected exception printed its FAIL line and halted: count it. */
	failed += fail + (int)__atomic_load_n(&ap_failures, __ATOMIC_ACQUIRE);
	kprintf("tiny: %d passed, %d failed\n", passed, failed);
	outl(PORT_TEST_EXIT, failed ? 1 : 0);
	outb(PORT_I8042_CMD, 0xfe);
	halt_forever();
}

void kmain(u32 info_paddr, u32 protocol, u32 magic)
{
	serial_init();
	pic_mask_all();
	bootinfo_init(info_paddr, protocol, magic); /* first: it copies out of low memory */
	time_init();
	idt_init();
	tests_cpu_init();
	tests_repair_init();
	if (!boot.valid && protocol == BOOT_MULTIBOOT) {
		kprintf("FAIL boot: no multiboot information (EAX=%x, want 0x2badb002; EBX=%x)\n", magic, info_paddr);
		failed++;
	} else if (!boot.valid) {
		kprintf("FAIL boot: no PVH start_info at EBX=%x (magic 0x336ec578)\n", info_paddr);
		failed++;
	}
	const char *list;
	size_t len;
	if (cmdline_value("test", &list, &len))
		run_list(list, len);
	else
		demo();
	finish(0);
}
