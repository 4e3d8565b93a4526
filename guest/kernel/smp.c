/*
 * smp.c: the C side of an application processor. boot.S brings each AP from
 * the real-mode trampoline to long mode on its own stack and calls ap_main,
 * which checks in and parks.
 */
#include "tiny.h"

volatile u32 ap_checked_in;
volatile u32 ap_failures;   /* unexpected exceptions on APs (idt.c) */
volatile u32 ap_fault_next; /* set by test_apfail: the next AP to check in executes ud2 */

void ap_main(void)
{
	idt_load();
	kprintf("cpu %u up\n", lapic_id());
	__atomic_add_fetch(&ap_checked_in, 1, __ATOMIC_SEQ_CST);
	if (__atomic_exchange_n(&ap_fault_next, 0, __ATOMIC_ACQ_REL))
		__asm__ volatile("ud2"); /* not ud2_insn: no handler claims it */
	halt_forever();
}
