/*
 * serial.c: polled output on the 8250 UART at COM1. Every wait is bounded so
 * a missing UART slows the kernel down instead of hanging it.
 */
#include "tiny.h"

#define UART_THR 0 /* transmit holding register (write) */
#define UART_IER 1 /* interrupt enable */
#define UART_LCR 3 /* line control */
#define UART_LSR 5 /* line status */
#define LSR_THRE 0x20
#define THRE_POLLS 100000

void serial_init(void)
{
	outb(PORT_COM1 + UART_IER, 0x00); /* polled: no UART interrupts */
	outb(PORT_COM1 + UART_LCR, 0x03); /* 8N1, DLAB off */
}

static bool wait_thre(void)
{
	for (int i = 0; i < THRE_POLLS; i++) {
		if (inb(PORT_COM1 + UART_LSR) & LSR_THRE)
			return true;
		cpu_relax();
	}
	return false;
}

void serial_putc(char c)
{
	wait_thre();
	outb(PORT_COM1 + UART_THR, (u8)c);
}

void serial_write(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		serial_putc(s[i]);
}

/*
 * serial_thre_ok reports whether the line status register looks like a real
 * 8250: not all-ones (nothing decoding the port) and THRE set within a
 * bounded poll after a write.
 */
bool serial_thre_ok(void)
{
	u8 lsr = inb(PORT_COM1 + UART_LSR);
	if (lsr == 0xff)
		return false;
	return wait_thre();
}
