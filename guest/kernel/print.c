/*
 * print.c: a small printf. Each kprintf formats into a buffer first and then
 * writes it under one lock, so lines from different CPUs never interleave.
 */
#include "tiny.h"

static spinlock_t print_lock;

struct out {
	char *buf;
	size_t size, len;
};

static void put(struct out *o, char c)
{
	if (o->len + 1 < o->size)
		o->buf[o->len] = c;
	o->len++;
}

static void put_num(struct out *o, u64 v, unsigned base, bool neg, int width, char pad)
{
	char tmp[24];
	int n = 0;
	do {
		tmp[n++] = "0123456789abcdef"[v % base];
		v /= base;
	} while (v);
	if (neg)
		tmp[n++] = '-';
	for (int i = n; i < width; i++)
		put(o, pad);
	while (n)
		put(o, tmp[--n]);
}

/* vformat understands %s %c %d %u %x %p %% with l/ll and a zero-padded width. */
int vformat(char *buf, size_t size, const char *fmt, va_list ap)
{
	struct out o = {buf, size, 0};
	for (; *fmt; fmt++) {
		if (*fmt != '%') {
			put(&o, *fmt);
			continue;
		}
		fmt++;
		char pad = ' ';
		int width = 0, longs = 0;
		if (*fmt == '0') {
			pad = '0';
			fmt++;
		}
		while (*fmt >= '0' && *fmt <= '9')
			width = width * 10 + (*fmt++ - '0');
		while (*fmt == 'l') {
			longs++;
			fmt++;
		}
		switch (*fmt) {
		case 's': {
			const char *s = va_arg(ap, const char *);
			if (!s)
				s = "(null)";
			for (int i = (int)strlen(s); i < width; i++)
				put(&o, ' ');
			while (*s)
				put(&o, *s++);
			break;
		}
		case 'c':
			put(&o, (char)va_arg(ap, int));
			break;
		case 'd': {
			i64 v = longs ? va_arg(ap, i64) : va_arg(ap, int);
			put_num(&o, v < 0 ? -(u64)v : (u64)v, 10, v < 0, width, pad);
			break;
		}
		case 'u':
		case 'x': {
			u64 v = longs ? va_arg(ap, u64) : va_arg(ap, unsigned);
			put_num(&o, v, *fmt == 'u' ? 10 : 16, false, width, pad);
			break;
		}
		case 'p':
			put(&o, '0');
			put(&o, 'x');
			put_num(&o, (u64)(uintptr_t)va_arg(ap, void *), 16, false, 0, '0');
			break;
		case '%':
			put(&o, '%');
			break;
		case '\0':
			fmt--;
			break;
		default:
			put(&o, '%');
			put(&o, *fmt);
		}
	}
	if (size)
		buf[o.len < size ? o.len : size - 1] = '\0';
	return (int)o.len;
}

int format(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vformat(buf, size, fmt, ap);
	va_end(ap);
	return n;
}

static void vprint(bool lock, const char *fmt, va_list ap)
{
	char buf[512];
	int n = vformat(buf, sizeof buf, fmt, ap);
	if (n >= (int)sizeof buf)
		n = sizeof buf - 1;
	bool locked = lock ? (spin_lock(&print_lock), true)
			   : spin_trylock_bounded(&print_lock, 1000000);
	serial_write(buf, (size_t)n);
	if (locked)
		spin_unlock(&print_lock);
}

void kprintf(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vprint(true, fmt, ap);
	va_end(ap);
}

/* kprintf_nolock is for fault reports: it takes the lock if it can, and prints anyway if it cannot. */
void kprintf_nolock(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vprint(false, fmt, ap);
	va_end(ap);
}
