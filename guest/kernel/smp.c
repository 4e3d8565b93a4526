/*
 * smp.c: the C side of an application processor. boot.S brings each AP from
 * the real-mode trampoline to long mode on its own stack and calls ap_main,
 * which checks in and parks.
 */
#include "tiny.h"

volatile u32 ap_checked_in;

void ap_main(void)
{
	idt_load();
	kprintf("cpu %u up\n", lapic_id());
	__atomic_add_fetch(&ap_checked_in, 1, __ATOMIC_SEQ_CST);
	halt_forever();
}
