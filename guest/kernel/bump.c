/*
 * bump.c: guest RAM for virtqueues and I/O buffers. A bump allocator over the
 * first RAM range the memmap reports above the kernel image, capped at 2 GiB
 * (the part boot.S maps write-back) and kept clear of boot modules. A case takes a mark when it starts and
 * releases it when done, after its devices are reset, so nothing is freed
 * while a device may still touch it.
 */
#include "virtio.h"

#define BUMP_LIMIT (2 * GiB)

/* __image_end: tiny.h */

static u64 next, end;
static bool ready;

static void bump_init(void)
{
	ready = true;
	u64 lo = ((u64)(uintptr_t)__image_end + 4095) & ~4095UL;
	for (u32 i = 0; i < boot.memmap_count; i++) {
		const struct memmap_entry *e = &boot.memmap[i];
		if (e->type != MEMMAP_RAM || e->addr + e->size < e->addr)
			continue;
		u64 s = e->addr > lo ? e->addr : lo;
		u64 t = e->addr + e->size < BUMP_LIMIT ? e->addr + e->size : BUMP_LIMIT;
		s = (s + 4095) & ~4095UL;
		if (s >= t)
			continue;
		/* The lowest range above the image wins. */
		if (end == 0 || s < next) {
			next = s;
			end = t;
		}
	}
	/* Stop below any boot module (an initrd) that starts inside the range. */
	u32 nmod = boot.modules < BOOT_MODULES_MAX ? boot.modules : BOOT_MODULES_MAX;
	for (u32 i = 0; i < nmod; i++) {
		u64 a = boot.module[i].addr & ~4095UL;
		if (a >= next && a < end)
			end = a;
		else if (a < next && boot.module[i].addr + boot.module[i].size > next)
			next = (boot.module[i].addr + boot.module[i].size + 4095) & ~4095UL;
	}
	if (next > end)
		next = end;
}

void *bump_alloc(u64 size, u64 align)
{
	if (!ready)
		bump_init();
	if (align < 8)
		align = 8;
	u64 p = (next + align - 1) & ~(align - 1);
	if (p < next || p > end || size > end - p)
		return NULL;
	next = p + size;
	return (void *)(uintptr_t)p;
}

u64 bump_mark(void)
{
	if (!ready)
		bump_init();
	return next;
}

void bump_release(u64 mark)
{
	if (mark <= next)
		next = mark;
}

u64 bump_left(void)
{
	if (!ready)
		bump_init();
	return end - next;
}

/* zero_mem clears n bytes a word at a time where it can (guest instructions are dear). */
void zero_mem(void *p, u64 n)
{
	u8 *b = p;
	while (n && ((uintptr_t)b & 7)) {
		*b++ = 0;
		n--;
	}
	u64 *w = (u64 *)b;
	for (; n >= 8; n -= 8)
		*w++ = 0;
	b = (u8 *)w;
	while (n--)
		*b++ = 0;
}
