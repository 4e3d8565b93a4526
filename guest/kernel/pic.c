/*
 * pic.c: silence the legacy 8259 PICs. Firmware (SeaBIOS under QEMU) leaves
 * the master programmed at vector 8, so the PIT's IRQ 0 would arrive looking
 * like a #DF the moment the kernel executes sti. This kernel uses only the
 * local APIC and MSIs.
 */
#include "tiny.h"

#define PIC1_DATA 0x21
#define PIC2_DATA 0xa1

void pic_mask_all(void)
{
	outb(PIC1_DATA, 0xff);
	outb(PIC2_DATA, 0xff);
}
