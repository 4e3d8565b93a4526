/*
 * fwcfg.c: QEMU's fw_cfg through its legacy ports: a 16-bit write to 0x510
 * selects an item, then each byte read from 0x511 is its next byte. vmm and
 * QEMU both provide it; items are little-endian.
 */
#include "tiny.h"

void fwcfg_read(u16 key, void *buf, size_t n)
{
	u8 *b = buf;
	outw(PORT_FW_CFG_SEL, key);
	for (size_t i = 0; i < n; i++)
		b[i] = inb(PORT_FW_CFG_DATA);
}
