/*
 * repair_sites.S: the only place the kernel executes int3, int n, fwait,
 * clac and stac. kvm_pvm cannot emulate them and stops the guest with an
 * emulation failure; the VMM completes them itself (vmm/repair.go), and the
 * cases in tests_repair.c check that it got each one right.
 *
 * Everything here sits in .text.repair, which linker.ld places in its own
 * output section for this file alone; the Makefile's forbidden-instruction
 * check covers .text, so the same instructions anywhere else still fail the
 * build. Each instruction has a *_site label (where it starts) and an
 * *_after label (the next instruction) for the handlers to compare RIP with.
 */
#include "tiny.h"

	.section .text.repair, "ax"
	.code64

/* u32 repair_int3(void): int3, then return 1 to show execution went on. */
	.global repair_int3, repair_int3_site, repair_int3_after
repair_int3:
	xor %eax, %eax
repair_int3_site:
	int3
repair_int3_after:
	mov $1, %eax
	ret

/* u32 repair_intn(void): int $VECTOR_REPAIR_INTN, then return 1. */
	.global repair_intn, repair_intn_site, repair_intn_after
repair_intn:
	xor %eax, %eax
repair_intn_site:
	int $VECTOR_REPAIR_INTN
repair_intn_after:
	mov $1, %eax
	ret

/* u32 repair_fwait(void): fwait, then return 1. */
	.global repair_fwait, repair_fwait_site, repair_fwait_after
repair_fwait:
	xor %eax, %eax
repair_fwait_site:
	fwait
repair_fwait_after:
	inc %eax
	ret

/* u64 repair_stac(void): stac, then return RFLAGS as pushfq sees it. */
	.global repair_stac, repair_stac_site, repair_stac_after
repair_stac:
repair_stac_site:
	stac
repair_stac_after:
	pushfq
	pop %rax
	ret

/* u64 repair_clac(void): clac, then return RFLAGS as pushfq sees it. */
	.global repair_clac, repair_clac_site, repair_clac_after
repair_clac:
repair_clac_site:
	clac
repair_clac_after:
	pushfq
	pop %rax
	ret
