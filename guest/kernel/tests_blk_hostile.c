/*
 * tests_blk_hostile.c: the blk_h_* cases, run by test=blk_hostile (docs/guest.md,
 * "Hostile virtio-blk cases"). Each check breaks a virtio rule on purpose through
 * the raw ring layer, requires the answer docs/virtio-blk.md promises (a status
 * byte, or DEVICE_NEEDS_RESET with a configuration-change interrupt), and then
 * requires that the device keeps serving: the other disk while this one needs a
 * reset, this one after the driver has reset it, and no refused request may
 * have changed a byte of the disk.
 *
 * Sectors [7168, 7232) of the writable disk hold a guard pattern every refused
 * write aims at; good requests go to [7680, 7688) of either disk.
 */
#include "virtio.h"

#define H_GUARD 7168
#define H_GUARD_SECTORS 64
#define H_GUARD_BYTES (H_GUARD_SECTORS * SECTOR)
#define H_SERVE 7680
#define H_BLOCK 4096
#define H_BUF (72 * KiB) /* data buffer of every case but len_seg_too_big */
#define H_JUNK 0xee      /* what refused writes carry */

/* rd is one descriptor of a chain a check builds: next is an index into the chain when it is below the chain's length, else written as is. */
struct rd {
	u64 addr;
	u32 len;
	u16 flags;
	u16 next;
};

struct hostile {
	struct blk_dev *d;     /* the disk the checks abuse */
	struct blk_dev *other; /* the one that must keep serving meanwhile */
	struct blk_req *r;     /* requests for the checks' chains */
	u8 *buf;               /* H_BUF bytes of data */
	u8 *tbl;               /* 8 KiB: indirect tables, odd status bytes */
	u8 *rings;             /* 12 KiB for the misplaced rings */
	u8 *sbuf;              /* H_BLOCK bytes for the good requests */
	u8 *gbuf;              /* H_GUARD_BYTES to read the guard back */
	u64 tag, serial;
	char saw[200];         /* what the last check saw */
};

struct hcheck {
	const char *name;
	const char *(*run)(struct hostile *h);
	bool reset; /* the answer is NEEDS_RESET: the driver must reset the disk afterwards */
};

static struct hostile H;

static inline u64 pa(const volatile void *p)
{
	return (u64)(uintptr_t)p;
}

static void fill_words(void *buf, u64 len, u64 tag)
{
	u64 *w = buf;
	for (u64 i = 0; i < len / 8; i++)
		w[i] = tag ^ i;
}

/* bad_word returns the index of the first word not tag ^ i, or len/8. */
static u64 bad_word(const void *buf, u64 len, u64 tag)
{
	const u64 *w = buf;
	u64 i = 0;
	while (i < len / 8 && w[i] == (tag ^ i))
		i++;
	return i;
}

static void fill_bytes(void *buf, u8 c, u64 len)
{
	u64 *w = buf, v = 0x0101010101010101ULL * c;
	for (u64 i = 0; i < len / 8; i++)
		w[i] = v;
}

/* ---- putting chains in the ring, however wrong ---- */

static void notify(struct blk_dev *d)
{
	vmmio_notify(d->m, d->vq.index);
}

/* publish_raw appends heads to the avail ring and moves idx by n + extra in one store. */
static void publish_raw(struct virtq *q, const u16 *heads, u16 n, u16 extra)
{
	for (u16 i = 0; i < n; i++)
		q->avail->ring[(u16)(q->shadow_avail + i) & (q->size - 1)] = heads[i];
	barrier();
	q->shadow_avail = (u16)(q->shadow_avail + n + extra);
	q->in_flight = (u16)(q->in_flight + n);
	st16(&q->avail->idx, q->shadow_avail);
}

/* place writes chain c into free descriptor slots as request r; returns the head (or why not in *why). */
static u16 place(struct hostile *h, struct blk_req *r, const struct rd *c, u32 n, const char **why)
{
	struct blk_dev *d = h->d;
	struct virtq *q = &d->vq;
	u16 slot[VQ_MAX_SIZE];
	*why = NULL;
	if (n > q->size || !vq_take(q, (u16)n, slot)) {
		*why = blk_errf(d, "the ring has %u free descriptors, the chain needs %u", vq_free_count(q), n);
		return 0;
	}
	u32 writable = 0;
	for (u32 i = 0; i < n; i++) {
		u16 next = c[i].next < n ? slot[c[i].next] : c[i].next;
		q->desc[slot[i]] = (struct vq_desc){c[i].addr, c[i].len, c[i].flags, next};
		if (c[i].flags & VQ_DESC_F_WRITE)
			writable += c[i].len;
	}
	r->head = slot[0];
	r->nring = (u16)n;
	r->writable = writable ? writable : 1;
	r->done = false;
	r->used_len = 0;
	r->seq = d->seq++;
	d->by_head[slot[0]] = r;
	return slot[0];
}

/* post places chain c, makes it available and notifies, whatever the device's suppression flags say. */
static const char *post(struct hostile *h, struct blk_req *r, const struct rd *c, u32 n)
{
	const char *why;
	u16 head = place(h, r, c, n, &why);
	if (why)
		return why;
	vq_want_interrupt(&h->d->vq);
	publish_raw(&h->d->vq, &head, 1, 0);
	notify(h->d);
	return NULL;
}

/* req3 lays out the chain a good driver sends: 16-byte header, one data buffer, one status byte. */
static u32 req3(struct rd *c, struct blk_req *r, u32 type, u64 sector, const void *buf, u32 len)
{
	bool dev_writes = type == BLK_T_IN || type == BLK_T_GET_ID;
	r->type = type;
	r->reserved = 0;
	r->sector = sector;
	r->status = BLK_S_NONE;
	c[0] = (struct rd){pa(r), 16, VQ_DESC_F_NEXT, 1};
	c[1] = (struct rd){pa(buf), len, (u16)((dev_writes ? VQ_DESC_F_WRITE : 0) | VQ_DESC_F_NEXT), 2};
	c[2] = (struct rd){pa(&r->status), 1, VQ_DESC_F_WRITE, 0};
	return 3;
}

/* ---- the two kinds of answer ---- */

/* expect_status posts c and requires the device to complete it with status byte *st == want, the device staying live. */
static const char *expect_status(struct hostile *h, struct blk_req *r, const struct rd *c, u32 n,
				 volatile u8 *st, u8 want)
{
	struct blk_dev *d = h->d;
	*st = BLK_S_NONE;
	const char *why = post(h, r, c, n);
	if (!why)
		why = blk_wait_req(d, r);
	if (why)
		return why;
	u32 s = vmmio_status(d->m);
	if (*st != want)
		return blk_errf(d, "status %s (%x), want %s; used len %u, Status %x", blk_status_name(*st),
				*st, blk_status_name(want), r->used_len, s);
	if (s & (VSTAT_NEEDS_RESET | VSTAT_FAILED))
		return blk_errf(d, "status %s as wanted, but Status reads %x: the device gave up on a request it answered",
				blk_status_name(*st), s);
	format(h->saw, sizeof h->saw, "status %s, used len %u, Status %x", blk_status_name(*st), r->used_len, s);
	return NULL;
}

/*
 * expect_reset waits, bounded, for Status to show DEVICE_NEEDS_RESET. If the device
 * was live (DRIVER_OK) InterruptStatus must then show the configuration-change bit
 * and, in interrupt mode, the interrupt must arrive.
 */
static const char *expect_reset(struct hostile *h, bool live)
{
	struct blk_dev *d = h->d;
	u64 timeout = blk_timeout_us(), deadline = rdtsc() + cycles_from_us(timeout);
	u64 cfg0 = d->config_irqs;
	u32 st;
	while (!((st = vmmio_status(d->m)) & VSTAT_NEEDS_RESET)) {
		if (rdtsc() > deadline)
			return blk_errf(d, "Status still reads %x %lu ms later: no DEVICE_NEEDS_RESET (0x40)", st,
					timeout / 1000);
		cpu_relax();
	}
	u32 isr = vmmio_rd(d->m, VMMIO_INTERRUPT_STATUS);
	if (live && !(isr & VINT_CONFIG))
		return blk_errf(d, "Status %x, but InterruptStatus %x lacks the configuration-change bit (2)", st, isr);
	bool irq = false;
	if (live && !d->polling) {
		while (d->config_irqs == cfg0) {
			if (rdtsc() > deadline)
				return blk_errf(d, "Status %x, InterruptStatus %x, but no interrupt within %lu ms", st,
						isr, timeout / 1000);
			__asm__ volatile("sti; hlt; cli" ::: "memory");
		}
		irq = true;
	}
	format(h->saw, sizeof h->saw, "NEEDS_RESET: Status %x, InterruptStatus %x%s", st, isr,
	       irq ? ", configuration-change interrupt taken" : "");
	return NULL;
}

/* ---- showing the device still serves ---- */

/* serve writes a block and reads it back on a writable disk, or reads one on a read-only disk. */
static const char *serve(struct hostile *h, struct blk_dev *d)
{
	u64 s = d->capacity >= H_SERVE + H_BLOCK / SECTOR ? H_SERVE : 0;
	if (!blk_writable(d))
		return blk_io(d, BLK_T_IN, s, h->sbuf, H_BLOCK);
	u64 tag = h->tag ^ ++h->serial << 40;
	fill_words(h->sbuf, H_BLOCK, tag);
	const char *why = blk_io(d, BLK_T_OUT, s, h->sbuf, H_BLOCK);
	if (why)
		return why;
	zero_mem(h->sbuf, H_BLOCK);
	if ((why = blk_io(d, BLK_T_IN, s, h->sbuf, H_BLOCK)))
		return why;
	u64 i = bad_word(h->sbuf, H_BLOCK, tag);
	if (i != H_BLOCK / 8)
		return blk_errf(d, "block written at sector %lu reads back %lx at word %lu, want %lx", s,
				((u64 *)h->sbuf)[i], i, tag ^ i);
	return NULL;
}

static u64 guard_tag(const struct hostile *h)
{
	return h->tag ^ 0x4755415244ULL; /* "GUARD" */
}

static const char *guard_check(struct hostile *h)
{
	struct blk_dev *d = h->d;
	zero_mem(h->gbuf, H_GUARD_BYTES);
	const char *why = blk_io(d, BLK_T_IN, H_GUARD, h->gbuf, H_GUARD_BYTES);
	if (why)
		return why;
	u64 i = bad_word(h->gbuf, H_GUARD_BYTES, guard_tag(h));
	if (i != H_GUARD_BYTES / 8)
		return blk_errf(d, "guard sector %lu changed: word %lu reads %lx (a refused request wrote the disk)",
				H_GUARD + i * 8 / SECTOR, i % (SECTOR / 8), ((u64 *)h->gbuf)[i]);
	return NULL;
}

/*
 * recover proves the device still serves after a check: with NEEDS_RESET, the other
 * disk serves while this one still shows it, then this one is reset, brought up
 * again on fresh rings and serves; otherwise this one serves as it is.
 */
static const char *recover(struct hostile *h, bool reset)
{
	struct blk_dev *d = h->d;
	const char *why;
	if (reset) {
		if ((why = serve(h, h->other)))
			return fail_reason("disk %d, while disk %d needs a reset: %s", h->other->slot, d->slot, why);
		u32 st = vmmio_status(d->m);
		if (!(st & VSTAT_NEEDS_RESET))
			return blk_errf(d, "Status %x: NEEDS_RESET went away without a reset", st);
		if ((why = blk_reinit(d)))
			return blk_errf(d, "reset and re-initialised: %s", why);
	} else {
		u32 st = vmmio_status(d->m);
		if (st & (VSTAT_NEEDS_RESET | VSTAT_FAILED) || !(st & VSTAT_DRIVER_OK))
			return blk_errf(d, "Status %x after a refused request, want DRIVER_OK alone", st);
	}
	if ((why = serve(h, d)))
		return fail_reason("after the check: %s", why);
	return NULL;
}

/* ---- the ring: blk_h_ring ---- */

static const char *ring_head(struct hostile *h)
{
	u16 head = h->d->vq.size; /* one past the last descriptor */
	publish_raw(&h->d->vq, &head, 1, 0);
	notify(h->d);
	return expect_reset(h, true);
}

static const char *ring_avail_jump(struct hostile *h)
{
	publish_raw(&h->d->vq, NULL, 0, (u16)(h->d->vq.size + 1));
	notify(h->d);
	return expect_reset(h, true);
}

static const char *ring_head_twice(struct hostile *h)
{
	struct rd c[3];
	const char *why;
	u32 n = req3(c, h->r, BLK_T_IN, H_SERVE, h->buf, H_BLOCK);
	u16 head = place(h, h->r, c, n, &why);
	if (why)
		return why;
	u16 heads[2] = {head, head}; /* one store of idx: the device sees both while the first is in flight */
	publish_raw(&h->d->vq, heads, 2, 0);
	notify(h->d);
	return expect_reset(h, true);
}

static const struct hcheck ring_checks[] = {
	{"head index = queue size", ring_head, true},
	{"avail idx moved by queue size + 1", ring_avail_jump, true},
	{"a head made available twice while in flight", ring_head_twice, true},
};

/* ---- chains: blk_h_chain ---- */

static const char *chain_next_out(struct hostile *h)
{
	struct rd c[3];
	u32 n = req3(c, h->r, BLK_T_IN, H_SERVE, h->buf, H_BLOCK);
	c[0].next = (u16)(h->d->vq.size + 44); /* written as is: past the table */
	const char *why = post(h, h->r, c, n);
	return why ? why : expect_reset(h, true);
}

static const char *chain_loop(struct hostile *h)
{
	struct rd c[3];
	req3(c, h->r, BLK_T_IN, H_SERVE, h->buf, H_BLOCK);
	c[1].next = 0; /* header -> data -> header -> ... */
	const char *why = post(h, h->r, c, 2);
	return why ? why : expect_reset(h, true);
}

static const struct hcheck chain_checks[] = {
	{"next index past the queue", chain_next_out, true},
	{"a loop 0->1->0", chain_loop, true},
};

/* ---- indirect tables: blk_h_indirect, blk_h_noindirect ---- */

/* indirect posts one INDIRECT descriptor (addr, len, extra flags) over a well-formed 3-entry table at h->tbl. */
static const char *indirect(struct hostile *h, u64 addr, u32 len, u16 flags, struct vq_desc *fix,
			    u32 fix_at)
{
	struct rd c[3];
	struct vq_desc *t = (struct vq_desc *)h->tbl;
	req3(c, h->r, BLK_T_IN, H_SERVE, h->buf, H_BLOCK);
	for (u32 i = 0; i < 3; i++)
		t[i] = (struct vq_desc){c[i].addr, c[i].len, c[i].flags, c[i].next};
	if (fix)
		t[fix_at] = *fix;
	struct rd ring[2] = {{addr, len, (u16)(VQ_DESC_F_INDIRECT | flags), 1},
			     {pa(&h->r->status), 1, VQ_DESC_F_WRITE, 0}};
	const char *why = post(h, h->r, ring, flags & VQ_DESC_F_NEXT ? 2 : 1);
	return why ? why : expect_reset(h, true);
}

static const char *ind_len24(struct hostile *h)
{
	return indirect(h, pa(h->tbl), 24, 0, NULL, 0);
}

static const char *ind_len0(struct hostile *h)
{
	return indirect(h, pa(h->tbl), 0, 0, NULL, 0);
}

static const char *ind_too_many(struct hostile *h)
{
	return indirect(h, pa(h->tbl), (h->d->vq.size + 1u) * 16, 0, NULL, 0);
}

static const char *ind_nested(struct hostile *h)
{
	struct vq_desc inner = {pa(h->tbl + 4096), 48, VQ_DESC_F_INDIRECT, 0};
	return indirect(h, pa(h->tbl), 48, 0, &inner, 0);
}

static const char *ind_with_next(struct hostile *h)
{
	return indirect(h, pa(h->tbl), 48, VQ_DESC_F_NEXT, NULL, 0);
}

static const char *ind_next_out(struct hostile *h)
{
	struct vq_desc hdr = {pa(h->r), 16, VQ_DESC_F_NEXT, 3}; /* the table has entries 0-2 */
	return indirect(h, pa(h->tbl), 48, 0, &hdr, 0);
}

static const struct hcheck indirect_checks[] = {
	{"table of 24 bytes", ind_len24, true},
	{"table of 0 bytes", ind_len0, true},
	{"table of queue size + 1 entries", ind_too_many, true},
	{"indirect inside a table", ind_nested, true},
	{"INDIRECT with NEXT", ind_with_next, true},
	{"next past the table's end", ind_next_out, true},
};

static const char *ind_not_negotiated(struct hostile *h)
{
	struct blk_dev *d = h->d;
	d->drop = FEATURE(VIRTIO_F_INDIRECT_DESC);
	const char *why = blk_reinit(d);
	d->drop = 0; /* the reset after the check negotiates it again */
	if (why)
		return blk_errf(d, "re-initialising without INDIRECT_DESC: %s", why);
	if (d->features & FEATURE(VIRTIO_F_INDIRECT_DESC))
		return "INDIRECT_DESC still negotiated";
	return indirect(h, pa(h->tbl), 48, 0, NULL, 0);
}

static const struct hcheck noindirect_checks[] = {
	{"a well-formed indirect table, INDIRECT_DESC not negotiated", ind_not_negotiated, true},
};

/* ---- guest memory: blk_h_memory ---- */

static const char *mem_buffer(struct hostile *h, u64 addr, u32 len)
{
	struct rd c[3];
	u32 n = req3(c, h->r, BLK_T_IN, H_SERVE, h->buf, H_BLOCK);
	c[1].addr = addr;
	c[1].len = len;
	const char *why = post(h, h->r, c, n);
	return why ? why : expect_reset(h, true);
}

static const char *mem_straddle(struct hostile *h)
{
	return mem_buffer(h, boot.ram_top - 512, 1024);
}

static const char *mem_past_end(struct hostile *h)
{
	return mem_buffer(h, boot.ram_top + MiB, 512);
}

static const char *mem_wrap(struct hostile *h)
{
	return mem_buffer(h, 0xfffffffffffffe00ULL, 0x400);
}

static const char *mem_table(struct hostile *h)
{
	return indirect(h, boot.ram_top, 48, 0, NULL, 0);
}

static const struct hcheck memory_checks[] = {
	{"a buffer across the end of RAM", mem_straddle, true},
	{"a buffer past the end of RAM", mem_past_end, true},
	{"a buffer wrapping past 2^64", mem_wrap, true},
	{"an indirect table past the end of RAM", mem_table, true},
};

/* ---- the status descriptor: blk_h_status ---- */

static const char *status_readable(struct hostile *h)
{
	struct rd c[3];
	u32 n = req3(c, h->r, BLK_T_IN, H_SERVE, h->buf, H_BLOCK);
	c[2].flags = 0;
	const char *why = post(h, h->r, c, n);
	return why ? why : expect_reset(h, true);
}

static const char *status_empty(struct hostile *h)
{
	struct rd c[3];
	u32 n = req3(c, h->r, BLK_T_IN, H_SERVE, h->buf, H_BLOCK);
	c[2].len = 0;
	const char *why = post(h, h->r, c, n);
	return why ? why : expect_reset(h, true);
}

static const char *status_two_bytes(struct hostile *h)
{
	struct rd c[3];
	volatile u8 *st = h->tbl;
	u32 n = req3(c, h->r, BLK_T_IN, H_SERVE, h->buf, H_BLOCK);
	c[2] = (struct rd){pa(st), 2, VQ_DESC_F_WRITE, 0};
	st[0] = 0x5a;
	const char *why = expect_status(h, h->r, c, n, &st[1], BLK_S_IOERR);
	if (!why && st[0] != 0x5a)
		why = blk_errf(h->d, "the byte before the status byte changed to %x", st[0]);
	return why;
}

static const struct hcheck status_checks[] = {
	{"status descriptor device-readable", status_readable, true},
	{"status descriptor of 0 bytes", status_empty, true},
	{"status descriptor of 2 bytes (answer in the last)", status_two_bytes, false},
};

/* ---- header and direction: blk_h_header ---- */

/* refused_write sends a write of junk over the guard whose chain fix() spoils, and wants status want. */
static const char *refused_write(struct hostile *h, u32 type, u64 sector, u32 len, void (*fix)(struct rd *c),
				 u8 want)
{
	struct rd c[3];
	fill_bytes(h->buf, H_JUNK, H_BUF);
	u32 n = req3(c, h->r, type, sector, h->buf, len);
	if (fix)
		fix(c);
	return expect_status(h, h->r, c, n, &h->r->status, want);
}

static void short_header(struct rd *c)
{
	c[0].len = 8;
}

static void writable_header(struct rd *c)
{
	c[0].flags |= VQ_DESC_F_WRITE;
}

static void writable_data(struct rd *c)
{
	c[1].flags |= VQ_DESC_F_WRITE;
}

static const char *hdr_short(struct hostile *h)
{
	return refused_write(h, BLK_T_OUT, H_GUARD, H_BLOCK, short_header, BLK_S_IOERR);
}

static const char *hdr_writable(struct hostile *h)
{
	const char *why = refused_write(h, BLK_T_OUT, H_GUARD, H_BLOCK, writable_header, BLK_S_IOERR);
	if (!why && (h->r->type != BLK_T_OUT || h->r->sector != H_GUARD))
		why = "the device wrote into the header";
	return why;
}

static const char *dir_out_writable(struct hostile *h)
{
	return refused_write(h, BLK_T_OUT, H_GUARD, H_BLOCK, writable_data, BLK_S_IOERR);
}

static const char *dir_in_readable(struct hostile *h)
{
	struct rd c[3];
	u32 n = req3(c, h->r, BLK_T_IN, H_GUARD, h->buf, H_BLOCK);
	c[1].flags &= (u16)~VQ_DESC_F_WRITE;
	fill_words(h->buf, H_BLOCK, 0x5a5a);
	const char *why = expect_status(h, h->r, c, n, &h->r->status, BLK_S_IOERR);
	if (!why && bad_word(h->buf, H_BLOCK, 0x5a5a) != H_BLOCK / 8)
		why = "the device wrote into a device-readable buffer";
	return why;
}

static const struct hcheck header_checks[] = {
	{"header of 8 bytes", hdr_short, false},
	{"header device-writable", hdr_writable, false},
	{"OUT with a device-writable buffer", dir_out_writable, false},
	{"IN with a device-readable buffer", dir_in_readable, false},
};

/* ---- sectors and lengths: blk_h_bounds ---- */

static const char *bounds_past_capacity(struct hostile *h)
{
	struct blk_dev *d = h->d;
	u64 last = d->capacity - d->lbs / SECTOR; /* the last block */
	u8 *before = h->tbl + 4 * KiB;
	const char *why = blk_io(d, BLK_T_IN, last, before, d->lbs);
	if (!why)
		why = refused_write(h, BLK_T_OUT, last, 2 * d->lbs, NULL, BLK_S_IOERR);
	if (!why)
		why = blk_io(d, BLK_T_IN, last, h->sbuf, d->lbs);
	if (!why && memcmp(h->sbuf, before, d->lbs) != 0)
		why = blk_errf(d, "the last block (sector %lu) changed", last);
	return why;
}

static const char *bounds_wraps_to_guard(struct hostile *h)
{
	/* sector * 512 wraps to the guard's byte offset. */
	return refused_write(h, BLK_T_OUT, (1ULL << 55) + H_GUARD, H_BLOCK, NULL, BLK_S_IOERR);
}

static const char *bounds_last_u64(struct hostile *h)
{
	return refused_write(h, BLK_T_OUT, ~0ULL, H_BLOCK, NULL, BLK_S_IOERR);
}

static const char *len_500(struct hostile *h)
{
	return refused_write(h, BLK_T_OUT, H_GUARD, 500, NULL, BLK_S_IOERR);
}

static const char *len_520_in(struct hostile *h)
{
	struct rd c[3];
	u32 n = req3(c, h->r, BLK_T_IN, H_GUARD, h->buf, 520);
	return expect_status(h, h->r, c, n, &h->r->status, BLK_S_IOERR);
}

static const char *len_too_many_segs(struct hostile *h)
{
	struct blk_dev *d = h->d;
	struct rd c[VQ_MAX_SIZE];
	struct blk_req *r = h->r;
	if (!(d->features & FEATURE(BLK_F_SEG_MAX)))
		return "SEG_MAX is not negotiated: there is no limit to pass";
	u32 segs = d->seg_max + 1;
	if (segs + 2 > d->vq.size)
		return blk_errf(d, "queue size %u cannot hold a chain of seg_max + 3 = %u", d->vq.size, segs + 2);
	fill_bytes(h->buf, H_JUNK, H_BUF);
	req3(c, r, BLK_T_OUT, H_GUARD, h->buf, SECTOR);
	c[segs + 1] = c[2];
	c[segs + 1].next = 0;
	for (u32 i = 0; i < segs; i++) /* the device must refuse before it reads any: they may share memory */
		c[1 + i] = (struct rd){pa(h->buf + i % (H_BUF / SECTOR) * SECTOR), SECTOR, VQ_DESC_F_NEXT,
				       (u16)(2 + i)};
	return expect_status(h, r, c, segs + 2, &r->status, BLK_S_IOERR);
}

static const char *len_seg_too_big(struct hostile *h)
{
	struct blk_dev *d = h->d;
	if (!(d->features & FEATURE(BLK_F_SIZE_MAX)))
		return "SIZE_MAX is not negotiated: there is no limit to pass";
	u32 len = d->size_max / SECTOR * SECTOR + SECTOR;
	/* A buffer of its own: SIZE_MAX may be far above H_BUF, and filling that much is slow. */
	u8 *big = bump_alloc(len, 4096);
	if (!big)
		return blk_errf(d, "size_max %u: no guest RAM for a %u-byte buffer", d->size_max, len);
	struct rd c[3];
	u32 n = req3(c, h->r, BLK_T_OUT, H_GUARD, big, len);
	return expect_status(h, h->r, c, n, &h->r->status, BLK_S_IOERR);
}

static const struct hcheck bounds_checks[] = {
	{"write of 2 blocks from the last one", bounds_past_capacity, false},
	{"write at sector 2^55 + guard (byte offset wraps onto the guard)", bounds_wraps_to_guard, false},
	{"write at sector 2^64 - 1", bounds_last_u64, false},
	{"write of 500 bytes", len_500, false},
	{"read of 520 bytes", len_520_in, false},
	{"write of seg_max + 1 data descriptors", len_too_many_segs, false},
	{"write with one descriptor of size_max + 512", len_seg_too_big, false},
};

/* ---- what the device does not do: blk_h_unsupp ---- */

static const char *range_req(struct hostile *h, u32 type, u32 flags, u8 want)
{
	struct rd c[3];
	struct blk_req *r = h->r;
	r->dwz[0] = (struct blk_dwz){H_GUARD, H_GUARD_SECTORS, flags};
	u32 n = req3(c, r, type, 0, r->dwz, sizeof r->dwz[0]);
	return expect_status(h, r, c, n, &r->status, want);
}

static const char *unsupp_type(struct hostile *h)
{
	return refused_write(h, 0x7777, H_GUARD, H_BLOCK, NULL, BLK_S_UNSUPP);
}

static const char *unsupp_discard_unmap(struct hostile *h)
{
	if (!(h->d->features & FEATURE(BLK_F_DISCARD)))
		return "DISCARD is not negotiated: its flags cannot be tried";
	return range_req(h, BLK_T_DISCARD, BLK_DWZ_F_UNMAP, BLK_S_UNSUPP);
}

static const char *unsupp_wz_flag(struct hostile *h)
{
	if (!(h->d->features & FEATURE(BLK_F_WRITE_ZEROES)))
		return "WRITE_ZEROES is not negotiated: its flags cannot be tried";
	return range_req(h, BLK_T_WRITE_ZEROES, 2, BLK_S_UNSUPP);
}

static const struct hcheck unsupp_checks[] = {
	{"request type 0x7777", unsupp_type, false},
	{"DISCARD with the UNMAP flag", unsupp_discard_unmap, false},
	{"WRITE_ZEROES with flag 2", unsupp_wz_flag, false},
};

/* ---- the read-only disk: blk_h_ro ---- */

/* ro_try sends a request of type to block 1 of the read-only disk and requires it refused and the block unchanged. */
static const char *ro_try(struct hostile *h, u32 type, u64 feature)
{
	struct blk_dev *d = h->d;
	u64 s = d->lbs / SECTOR;
	const char *why = blk_io(d, BLK_T_IN, s, h->gbuf, d->lbs);
	if (why)
		return why;
	/* Not negotiated, the type is one the device was not offered to serve: UNSUPP; else IOERR. */
	u8 want = !feature || d->features & feature ? BLK_S_IOERR : BLK_S_UNSUPP;
	struct blk_req *r = h->r;
	if (type == BLK_T_OUT) {
		why = refused_write(h, BLK_T_OUT, s, d->lbs, NULL, want);
	} else {
		struct rd c[3];
		r->dwz[0] = (struct blk_dwz){s, d->lbs / SECTOR, 0};
		u32 n = req3(c, r, type, 0, r->dwz, sizeof r->dwz[0]);
		why = expect_status(h, r, c, n, &r->status, want);
	}
	if (why)
		return why;
	if ((why = blk_io(d, BLK_T_IN, s, h->sbuf, d->lbs)))
		return why;
	if (memcmp(h->sbuf, h->gbuf, d->lbs) != 0)
		return blk_errf(d, "block at sector %lu changed", s);
	return NULL;
}

static const char *ro_write(struct hostile *h)
{
	return ro_try(h, BLK_T_OUT, 0);
}

static const char *ro_discard(struct hostile *h)
{
	return ro_try(h, BLK_T_DISCARD, FEATURE(BLK_F_DISCARD));
}

static const char *ro_zeroes(struct hostile *h)
{
	return ro_try(h, BLK_T_WRITE_ZEROES, FEATURE(BLK_F_WRITE_ZEROES));
}

static const struct hcheck ro_checks[] = {
	{"write", ro_write, false},
	{"discard (UNSUPP when not offered, else IOERR)", ro_discard, false},
	{"write zeroes (UNSUPP when not offered, else IOERR)", ro_zeroes, false},
};

/* ---- the transport: blk_h_layout, blk_h_liveregs, blk_h_nofeatok ---- */

/* to_features_ok resets d and runs the handshake up to FEATURES_OK with the features negotiated before. */
static const char *to_features_ok(struct blk_dev *d)
{
	const struct vmmio *m = d->m;
	d->live = false;
	if (!vmmio_reset(m, blk_timeout_us()))
		return blk_errf(d, "Status still reads %x after writing 0", vmmio_status(m));
	vmmio_set_status(m, VSTAT_ACKNOWLEDGE);
	vmmio_set_status(m, VSTAT_ACKNOWLEDGE | VSTAT_DRIVER);
	vmmio_driver_features(m, d->features);
	vmmio_set_status(m, VSTAT_ACKNOWLEDGE | VSTAT_DRIVER | VSTAT_FEATURES_OK);
	u32 st = vmmio_status(m);
	if (!(st & VSTAT_FEATURES_OK))
		return blk_errf(d, "FEATURES_OK reads back clear (Status %x)", st);
	return NULL;
}

/*
 * bad_layout sets queue 0 up with its used ring used_off bytes into a 12 KiB area
 * whose descriptor table is at 0 and avail ring at 8 KiB, with a write over the guard
 * already available, then sets DRIVER_OK: NEEDS_RESET at once, and the write must
 * never run.
 */
static const char *bad_layout(struct hostile *h, u32 used_off)
{
	struct blk_dev *d = h->d;
	const struct vmmio *m = d->m;
	struct blk_req *r = h->r;
	u16 size = d->vq.size;
	zero_mem(h->rings, 12 * KiB);
	struct vq_desc *desc = (struct vq_desc *)h->rings;
	struct vq_avail *avail = (struct vq_avail *)(h->rings + 8 * KiB);
	u8 *used = h->rings + used_off;
	struct rd c[3];
	fill_bytes(h->buf, H_JUNK, H_BLOCK);
	req3(c, r, BLK_T_OUT, H_GUARD, h->buf, H_BLOCK);
	for (u32 i = 0; i < 3; i++)
		desc[i] = (struct vq_desc){c[i].addr, c[i].len, c[i].flags, c[i].next};
	avail->ring[0] = 0;
	avail->idx = 1;
	const char *why = to_features_ok(d);
	if (why)
		return why;
	if ((why = vmmio_queue_setup(m, 0, size, pa(desc), pa(avail), pa(used))))
		return why;
	u16 used_idx = ld16(used + 2);
	vmmio_set_status(m, VSTAT_ACKNOWLEDGE | VSTAT_DRIVER | VSTAT_FEATURES_OK | VSTAT_DRIVER_OK);
	notify(d);
	if ((why = expect_reset(h, true)))
		return why;
	delay_us(20000); /* a device that started anyway has had time to serve the write */
	if (r->status != BLK_S_NONE || ld16(used + 2) != used_idx)
		return blk_errf(d, "the device served a request on rings it refused (status %x, used idx %u)",
				r->status, ld16(used + 2));
	u32 n = (u32)strlen(h->saw);
	format(h->saw + n, sizeof h->saw - n, "; the write made available before DRIVER_OK was not served");
	return NULL;
}

static const char *layout_used_on_desc(struct hostile *h)
{
	return bad_layout(h, 2048);
}

static const char *layout_used_on_avail(struct hostile *h)
{
	return bad_layout(h, 8 * KiB + 64);
}

static const struct hcheck layout_checks[] = {
	{"used ring over the descriptor table", layout_used_on_desc, true},
	{"used ring over the avail ring", layout_used_on_avail, true},
};

static const char *live_reg(struct hostile *h, u32 reg, u32 v)
{
	vmmio_wr(h->d->m, VMMIO_QUEUE_SEL, 0);
	vmmio_wr(h->d->m, reg, v);
	return expect_reset(h, true);
}

static const char *live_num(struct hostile *h)
{
	return live_reg(h, VMMIO_QUEUE_NUM, h->d->vq.size / 2u);
}

static const char *live_desc(struct hostile *h)
{
	return live_reg(h, VMMIO_QUEUE_DESC_LOW, (u32)pa(h->rings));
}

static const struct hcheck liveregs_checks[] = {
	{"QueueNum written after DRIVER_OK", live_num, true},
	{"QueueDescLow written after DRIVER_OK", live_desc, true},
};

static const char *driver_ok_alone(struct hostile *h)
{
	struct blk_dev *d = h->d;
	const struct vmmio *m = d->m;
	d->live = false;
	if (!vmmio_reset(m, blk_timeout_us()))
		return blk_errf(d, "Status still reads %x after writing 0", vmmio_status(m));
	vmmio_set_status(m, VSTAT_ACKNOWLEDGE);
	vmmio_set_status(m, VSTAT_ACKNOWLEDGE | VSTAT_DRIVER);
	vmmio_driver_features(m, d->features);
	vmmio_set_status(m, VSTAT_ACKNOWLEDGE | VSTAT_DRIVER | VSTAT_DRIVER_OK);
	u32 st = vmmio_status(m), isr = vmmio_rd(m, VMMIO_INTERRUPT_STATUS);
	if (!(st & VSTAT_NEEDS_RESET))
		return blk_errf(d, "Status %x: no DEVICE_NEEDS_RESET", st);
	if (st & VSTAT_DRIVER_OK)
		return blk_errf(d, "Status %x: the device took DRIVER_OK", st);
	format(h->saw, sizeof h->saw, "NEEDS_RESET: Status %x, DRIVER_OK not taken, InterruptStatus %x", st, isr);
	return NULL;
}

static const struct hcheck nofeatok_checks[] = {
	{"DRIVER_OK without FEATURES_OK", driver_ok_alone, true},
};

/* ---- a flood: blk_h_flood ---- */

#define FLOOD_BATCH 64
#define FLOOD_ROUNDS 16

static const char *flood(struct hostile *h)
{
	struct blk_dev *d = h->d;
	struct blk_req *r = blk_reqs_alloc(FLOOD_BATCH, 0);
	if (!r)
		return "out of guest RAM";
	fill_bytes(h->buf, H_JUNK, H_BLOCK);
	struct blk_seg seg = {h->buf, 500};
	for (u32 k = 0; k < FLOOD_ROUNDS; k++) {
		for (u32 i = 0; i < FLOOD_BATCH; i++) {
			const char *why = blk_submit(d, &r[i], BLK_T_OUT, H_GUARD, &seg, 1, false);
			if (why)
				return why;
		}
		blk_kick(d);
		const char *why = blk_wait_all(d);
		if (why)
			return why;
		for (u32 i = 0; i < FLOOD_BATCH; i++)
			if (r[i].status != BLK_S_IOERR)
				return blk_errf(d, "round %u, request %u: status %s, want IOERR", k, i,
						blk_status_name(r[i].status));
	}
	format(h->saw, sizeof h->saw, "%u writes of 500 bytes, %u in flight at a time: each IOERR",
	       FLOOD_BATCH * FLOOD_ROUNDS, FLOOD_BATCH);
	return NULL;
}

static const struct hcheck flood_checks[] = {
	{"bad requests as fast as the guest can send them", flood, false},
};

/* ---- running a case ---- */

static const struct hcheck *cur_checks;
static u32 cur_n;
static bool cur_ro;

static struct blk_dev *pick(bool want_writable, const struct blk_dev *not)
{
	for (int i = 0; i < blk_ndisks; i++)
		if (&blk_disks[i] != not && blk_writable(&blk_disks[i]) == want_writable)
			return &blk_disks[i];
	return NULL;
}

static const char *hostile_body(void)
{
	struct hostile *h = &H;
	zero_mem(h, sizeof *h);
	h->d = pick(!cur_ro, NULL);
	if (!h->d)
		return fail_reason("none of the %d virtio-blk disks is %s", blk_ndisks,
				   cur_ro ? "read-only" : "writable");
	/* The other disk: writable if there is one, so it serves writes too. */
	h->other = pick(true, h->d);
	if (!h->other)
		h->other = pick(false, h->d);
	if (!h->other)
		return "needs a second disk, to show it keeps serving while the first needs a reset";
	struct blk_dev *d = h->d;
	if (d->capacity < H_SERVE + H_BLOCK / SECTOR || d->lbs > H_BLOCK)
		return fail_reason("disk %d: %lu sectors of %u bytes; these cases need at least %u sectors of at most %u",
				   d->slot, d->capacity, d->lbs, H_SERVE + H_BLOCK / SECTOR, H_BLOCK);
	h->r = blk_reqs_alloc(1, 0);
	h->buf = bump_alloc(H_BUF, 4096);
	h->tbl = bump_alloc(8 * KiB, 4096);
	h->rings = bump_alloc(12 * KiB, 4096);
	h->sbuf = bump_alloc(H_BLOCK, 4096);
	h->gbuf = bump_alloc(H_GUARD_BYTES, 4096);
	if (!h->r || !h->buf || !h->tbl || !h->rings || !h->sbuf || !h->gbuf)
		return "out of guest RAM";
	h->tag = rdtsc() * 0x9E3779B97F4A7C15ULL;
	const char *why;
	if (blk_writable(d)) {
		fill_words(h->gbuf, H_GUARD_BYTES, guard_tag(h));
		if ((why = blk_io(d, BLK_T_OUT, H_GUARD, h->gbuf, H_GUARD_BYTES)))
			return fail_reason("disk %d: writing the guard: %s", d->slot, why);
	}
	for (u32 i = 0; i < cur_n; i++) {
		const struct hcheck *c = &cur_checks[i];
		h->saw[0] = '\0';
		why = c->run(h);
		if (!why)
			why = recover(h, c->reset);
		if (!why && blk_writable(d))
			why = guard_check(h);
		if (why)
			return fail_reason("disk %d, %s: %s", d->slot, c->name, why);
		kprintf("%s: disk %d, %s: %s; %s\n", current_test, d->slot, c->name, h->saw,
			c->reset ? "disk served meanwhile, this one reset and served again"
				 : "served again, no reset needed");
	}
	return NULL;
}

static const char *hostile(const struct hcheck *checks, u32 n, bool ro)
{
	cur_checks = checks;
	cur_n = n;
	cur_ro = ro;
	u64 mark = bump_mark();
	const char *why = blk_open_all();
	if (!why)
		why = hostile_body();
	if (blk_close_all())
		bump_release(mark);
	else if (!why)
		why = "a disk did not finish its reset at the end of the case";
	return why;
}

#define HOSTILE(name, checks, ro)                                                \
	const char *test_##name(void)                                              \
	{                                                                          \
		return hostile(checks, sizeof checks / sizeof checks[0], ro);      \
	}

HOSTILE(blk_h_ring, ring_checks, false)
HOSTILE(blk_h_chain, chain_checks, false)
HOSTILE(blk_h_indirect, indirect_checks, false)
HOSTILE(blk_h_noindirect, noindirect_checks, false)
HOSTILE(blk_h_memory, memory_checks, false)
HOSTILE(blk_h_status, status_checks, false)
HOSTILE(blk_h_header, header_checks, false)
HOSTILE(blk_h_bounds, bounds_checks, false)
HOSTILE(blk_h_unsupp, unsupp_checks, false)
HOSTILE(blk_h_ro, ro_checks, true)
HOSTILE(blk_h_layout, layout_checks, false)
HOSTILE(blk_h_liveregs, liveregs_checks, false)
HOSTILE(blk_h_nofeatok, nofeatok_checks, false)
HOSTILE(blk_h_flood, flood_checks, false)
