/*
 * virtio_blk.c: the virtio block driver (virtio 1.x, 5.2) over virtio_mmio.c
 * and virtq.c. One request queue per disk; requests are header + data +
 * status chains, direct or through an indirect table; completions are
 * found by head index, so the device may finish them in any order.
 *
 * Interrupt mode (the default): the disk's irq is routed to vector
 * VECTOR_VIRTIO_BASE + slot on the BSP; the handler acknowledges
 * InterruptStatus and counts; a waiter reaps the used ring only after an
 * interrupt, so a device that forgets one fails the wait instead of being
 * rescued by polling. Polling mode (blk_poll=1): the pin stays masked, the
 * driver asks for no interrupts and spins on the used index.
 *
 * Interrupts are enabled only inside `sti; hlt`, so handlers never race
 * the submission path.
 */
#include "virtio.h"

#define DEFAULT_TIMEOUT_MS 10000
#define TIMER_TICK_NS 10000000 /* a LAPIC tick bounds every hlt */
#define IO_MAX_SEGS 64         /* blk_io's own cap, to keep its stack small */
#define IO_MAX_BYTES (4 * MiB)

/* What this driver accepts when offered (docs/guest.md lists why each one). */
#define DRIVER_FEATURES                                                                    \
	(FEATURE(VIRTIO_F_VERSION_1) | FEATURE(BLK_F_RO) | FEATURE(BLK_F_BLK_SIZE) |       \
	 FEATURE(BLK_F_SEG_MAX) | FEATURE(BLK_F_SIZE_MAX) | FEATURE(BLK_F_FLUSH) |         \
	 FEATURE(BLK_F_TOPOLOGY) | FEATURE(BLK_F_DISCARD) | FEATURE(BLK_F_WRITE_ZEROES) |  \
	 FEATURE(VIRTIO_F_EVENT_IDX) | FEATURE(VIRTIO_F_INDIRECT_DESC))

/* virtio_blk_config offsets (5.2.4). */
#define CFG_CAPACITY 0
#define CFG_SIZE_MAX 8
#define CFG_SEG_MAX 12
#define CFG_BLK_SIZE 20
#define CFG_PHYS_BLOCK_EXP 24
#define CFG_ALIGN_OFFSET 25
#define CFG_MIN_IO_SIZE 26
#define CFG_OPT_IO_SIZE 28
#define CFG_MAX_DISCARD_SECTORS 36
#define CFG_MAX_DISCARD_SEG 40
#define CFG_DISCARD_ALIGN 44
#define CFG_MAX_WZ_SECTORS 48
#define CFG_MAX_WZ_SEG 52
#define CFG_WZ_MAY_UNMAP 56

struct blk_dev blk_disks[BLK_MAX_DISKS];
int blk_ndisks;
static struct vmmio mmios[VIRTIO_MMIO_MAX];
static bool handlers_installed, info_printed;
static u64 timeout_us, timeout_cycles; /* read once per blk_open_all: the command line is slow to scan */

const char *blk_errf(struct blk_dev *d, const char *fmt, ...)
{
	char tmp[sizeof d->why];
	va_list ap;
	va_start(ap, fmt);
	vformat(tmp, sizeof tmp, fmt, ap);
	va_end(ap);
	memcpy(d->why, tmp, sizeof tmp);
	return d->why;
}

/* blk_violation records the first thing the device did against the spec; waits then fail with it. */
void blk_violation(struct blk_dev *d, const char *fmt, ...)
{
	if (d->err[0])
		return;
	va_list ap;
	va_start(ap, fmt);
	vformat(d->err, sizeof d->err, fmt, ap);
	va_end(ap);
}

static void read_timeout(void)
{
	u64 ms;
	if (!cmdline_u64("blk_timeout_ms", &ms) || ms == 0 || ms > 3600000)
		ms = DEFAULT_TIMEOUT_MS;
	timeout_us = ms * 1000;
	timeout_cycles = cycles_from_us(timeout_us);
}

u64 blk_timeout_us(void)
{
	if (!timeout_us)
		read_timeout();
	return timeout_us;
}

bool blk_writable(const struct blk_dev *d)
{
	return !(d->offered & FEATURE(BLK_F_RO));
}

/* blk_max_segs is how many data descriptors one request may carry. */
u32 blk_max_segs(const struct blk_dev *d)
{
	u32 room = d->vq.size - 2u; /* header and status share the ring */
	if (!(d->features & FEATURE(BLK_F_SEG_MAX)))
		return 1; /* as Linux: without SEG_MAX, one data segment */
	return d->seg_max < room ? d->seg_max : room;
}

u32 blk_max_seg_bytes(const struct blk_dev *d)
{
	if (d->features & FEATURE(BLK_F_SIZE_MAX) && d->size_max < IO_MAX_BYTES)
		return d->size_max;
	return IO_MAX_BYTES;
}

const char *blk_status_name(u8 status)
{
	switch (status) {
	case BLK_S_OK: return "OK";
	case BLK_S_IOERR: return "IOERR";
	case BLK_S_UNSUPP: return "UNSUPP";
	case BLK_S_NONE: return "unwritten (0xff)";
	default: return "undefined";
	}
}

static bool on_virtio_irq(struct trap_frame *f)
{
	u32 slot = (u32)f->vector - VECTOR_VIRTIO_BASE;
	if (slot < (u32)blk_ndisks) {
		struct blk_dev *d = &blk_disks[slot];
		u32 isr = vmmio_rd(d->m, VMMIO_INTERRUPT_STATUS);
		if (isr & (VINT_USED | VINT_CONFIG))
			vmmio_wr(d->m, VMMIO_INTERRUPT_ACK, isr & (VINT_USED | VINT_CONFIG));
		d->irqs++;
		if (!(isr & VINT_USED))
			d->irq_no_used++;
		if (isr & VINT_CONFIG)
			d->config_irqs++;
	}
	lapic_eoi();
	return true;
}

static const char *read_config(struct blk_dev *d)
{
	const struct vmmio *m = d->m;
	if (!vmmio_cfg64(m, CFG_CAPACITY, &d->capacity))
		return "ConfigGeneration kept changing while capacity was read";
	d->lbs = SECTOR;
	if (d->features & FEATURE(BLK_F_BLK_SIZE)) {
		u32 bs = vmmio_cfg32(m, CFG_BLK_SIZE);
		if (bs < SECTOR || bs > 64 * KiB || (bs & (bs - 1)))
			return blk_errf(d, "blk_size %u is not a power of two from 512 to 64 KiB", bs);
		d->lbs = bs;
	}
	if (d->features & FEATURE(BLK_F_SIZE_MAX)) {
		d->size_max = vmmio_cfg32(m, CFG_SIZE_MAX);
		if (d->size_max < SECTOR)
			return blk_errf(d, "size_max %u is below one sector", d->size_max);
	}
	if (d->features & FEATURE(BLK_F_SEG_MAX)) {
		d->seg_max = vmmio_cfg32(m, CFG_SEG_MAX);
		if (d->seg_max == 0)
			return "SEG_MAX offered with seg_max 0";
	}
	if (d->features & FEATURE(BLK_F_TOPOLOGY)) {
		d->phys_block_exp = vmmio_cfg8(m, CFG_PHYS_BLOCK_EXP);
		d->align_offset = vmmio_cfg8(m, CFG_ALIGN_OFFSET);
		d->min_io_size = vmmio_cfg16(m, CFG_MIN_IO_SIZE);
		d->opt_io_size = vmmio_cfg32(m, CFG_OPT_IO_SIZE);
	}
	if (d->features & FEATURE(BLK_F_DISCARD)) {
		/* 0 means no limit for sectors (as Linux reads it); we take 0 segments as 1. */
		d->max_discard_sectors = vmmio_cfg32(m, CFG_MAX_DISCARD_SECTORS);
		d->max_discard_seg = vmmio_cfg32(m, CFG_MAX_DISCARD_SEG);
		d->discard_align = vmmio_cfg32(m, CFG_DISCARD_ALIGN);
		if (d->max_discard_seg == 0)
			d->max_discard_seg = 1;
		if (d->discard_align == 0)
			d->discard_align = 1;
	}
	if (d->features & FEATURE(BLK_F_WRITE_ZEROES)) {
		d->max_wz_sectors = vmmio_cfg32(m, CFG_MAX_WZ_SECTORS);
		d->max_wz_seg = vmmio_cfg32(m, CFG_MAX_WZ_SEG);
		d->wz_may_unmap = vmmio_cfg8(m, CFG_WZ_MAY_UNMAP);
		if (d->max_wz_seg == 0)
			d->max_wz_seg = 1;
	}
	return NULL;
}

/*
 * blk_init runs the status handshake of 3.1.1 on d: reset, ACKNOWLEDGE,
 * DRIVER, features, FEATURES_OK read back, configuration, queue 0,
 * interrupt routing, DRIVER_OK. Rings come from the bump allocator.
 */
static const char *blk_init(struct blk_dev *d)
{
	const struct vmmio *m = d->m;
	u64 timeout = blk_timeout_us();
	d->live = false;
	if (!vmmio_reset(m, timeout))
		return blk_errf(d, "Status still reads %x %lu ms after writing 0 (reset)",
				vmmio_status(m), timeout / 1000);
	vmmio_set_status(m, VSTAT_ACKNOWLEDGE);
	vmmio_set_status(m, VSTAT_ACKNOWLEDGE | VSTAT_DRIVER);
	d->offered = vmmio_device_features(m);
	if (!(d->offered & FEATURE(VIRTIO_F_VERSION_1))) {
		vmmio_set_status(m, VSTAT_ACKNOWLEDGE | VSTAT_DRIVER | VSTAT_FAILED);
		return blk_errf(d, "device offers features %lx without VIRTIO_F_VERSION_1 (bit 32)",
				d->offered);
	}
	u64 nofeat = 0;
	cmdline_u64("blk_nofeat", &nofeat);
	u64 want = d->offered & DRIVER_FEATURES & ~((nofeat | d->drop) & ~FEATURE(VIRTIO_F_VERSION_1));
	vmmio_driver_features(m, want);
	vmmio_set_status(m, VSTAT_ACKNOWLEDGE | VSTAT_DRIVER | VSTAT_FEATURES_OK);
	u32 st = vmmio_status(m);
	if (!(st & VSTAT_FEATURES_OK)) {
		vmmio_set_status(m, VSTAT_ACKNOWLEDGE | VSTAT_DRIVER | VSTAT_FAILED);
		return blk_errf(d, "device refused features %lx (offered %lx): FEATURES_OK reads back clear (Status %x)",
				want, d->offered, st);
	}
	d->features = want;
	const char *why = read_config(d);
	if (why)
		return why;
	d->queue_max = vmmio_queue_num_max(m, 0);
	if (d->queue_max == 0)
		return "queue 0 is not available (QueueNumMax reads 0)";
	u16 size = VQ_MAX_SIZE;
	while (size > d->queue_max)
		size >>= 1;
	why = vq_init(&d->vq, m, 0, size, d->features & FEATURE(VIRTIO_F_EVENT_IDX));
	if (why)
		return blk_errf(d, "queue 0 (size %u): %s", size, why);
	if (!d->sync)
		d->sync = blk_reqs_alloc(1, 0);
	if (!d->sync)
		return "out of guest RAM for a request";
	zero_mem(d->by_head, sizeof d->by_head);
	d->seq = d->max_done_seq = d->completions = d->out_of_order = 0;
	d->irqs = d->irq_no_used = d->config_irqs = 0;
	d->err[0] = '\0';
	u32 pins = ioapic_pins();
	if (pins == 0)
		return "no IOAPIC answers at 0xfec00000 (its version register reads 0 or all ones)";
	if (m->irq >= pins)
		return blk_errf(d, "irq %u: irq is past the IOAPIC's last pin (%u pins)", m->irq, pins);
	ioapic_route(m->irq, (u8)(VECTOR_VIRTIO_BASE + d->slot), lapic_id());
	if (d->polling)
		ioapic_set_masked(m->irq, true);
	if (d->polling)
		vq_no_interrupt(&d->vq);
	vmmio_set_status(m, VSTAT_ACKNOWLEDGE | VSTAT_DRIVER | VSTAT_FEATURES_OK | VSTAT_DRIVER_OK);
	st = vmmio_status(m);
	if (st & (VSTAT_NEEDS_RESET | VSTAT_FAILED) || !(st & VSTAT_DRIVER_OK))
		return blk_errf(d, "Status reads %x right after DRIVER_OK", st);
	d->live = true;
	return NULL;
}

const char *blk_reinit(struct blk_dev *d)
{
	return blk_init(d);
}

void blk_set_polling(struct blk_dev *d, bool polling)
{
	d->polling = polling;
	if (polling) {
		ioapic_set_masked(d->m->irq, true);
		vq_no_interrupt(&d->vq);
	} else {
		/* An edge IOAPIC input sees no edge while the line stays high: acknowledge what is pending. */
		ioapic_set_masked(d->m->irq, false);
		u32 isr = vmmio_rd(d->m, VMMIO_INTERRUPT_STATUS) & (VINT_USED | VINT_CONFIG);
		if (isr)
			vmmio_wr(d->m, VMMIO_INTERRUPT_ACK, isr);
	}
}

void blk_print_info(const struct blk_dev *d)
{
	const struct vmmio *m = d->m;
	u64 f = d->features;
	kprintf("virtio-blk: disk %d at %lx irq %u: %lu sectors (%lu MiB), block %u, queue %u of %u, "
		"seg_max %u, size_max %u, features %lx of %lx:%s%s%s%s%s%s%s%s%s\n",
		d->slot, m->base, m->irq, d->capacity, d->capacity / 2048, d->lbs, d->vq.size,
		d->queue_max, d->seg_max, d->size_max, f, d->offered,
		f & FEATURE(BLK_F_RO) ? " RO" : "", f & FEATURE(BLK_F_FLUSH) ? " FLUSH" : "",
		f & FEATURE(BLK_F_DISCARD) ? " DISCARD" : "",
		f & FEATURE(BLK_F_WRITE_ZEROES) ? " WRITE_ZEROES" : "",
		f & FEATURE(BLK_F_TOPOLOGY) ? " TOPOLOGY" : "",
		f & FEATURE(BLK_F_SEG_MAX) ? " SEG_MAX" : "", f & FEATURE(BLK_F_SIZE_MAX) ? " SIZE_MAX" : "",
		f & FEATURE(VIRTIO_F_EVENT_IDX) ? " EVENT_IDX" : "",
		f & FEATURE(VIRTIO_F_INDIRECT_DESC) ? " INDIRECT_DESC" : "");
	if (f & FEATURE(BLK_F_TOPOLOGY))
		kprintf("virtio-blk: disk %d topology: physical block 2^%u blocks, alignment offset %u, "
			"min io %u, opt io %u blocks\n",
			d->slot, d->phys_block_exp, d->align_offset, d->min_io_size, d->opt_io_size);
	if (f & (FEATURE(BLK_F_DISCARD) | FEATURE(BLK_F_WRITE_ZEROES)))
		kprintf("virtio-blk: disk %d discard max %u sectors x %u segs align %u; "
			"write zeroes max %u sectors x %u segs, may unmap %u\n",
			d->slot, d->max_discard_sectors, d->max_discard_seg, d->discard_align,
			d->max_wz_sectors, d->max_wz_seg, d->wz_may_unmap);
}

/*
 * blk_open_all finds every virtio-mmio disk on the command line and brings
 * each up. Other device types are skipped with a note. A disk that cannot
 * be brought up makes the whole call fail: the caller's case fails.
 */
const char *blk_open_all(void)
{
	static char msg[320];
	const char *why;
	blk_ndisks = 0;
	read_timeout();
	int n = vmmio_discover(mmios, VIRTIO_MMIO_MAX, &why);
	if (n < 0)
		return why;
	if (!handlers_installed) {
		for (int v = 0; v < VIRTIO_VECTORS; v++)
			trap_set_handler((u8)(VECTOR_VIRTIO_BASE + v), on_virtio_irq);
		handlers_installed = true;
	}
	u64 poll = 0;
	cmdline_u64("blk_poll", &poll);
	lapic_enable();
	if (!poll)
		lapic_timer_periodic(VECTOR_APIC_TIMER, TIMER_TICK_NS);
	for (int i = 0; i < n; i++) {
		if (mmios[i].device_id != VIRTIO_ID_BLOCK) {
			if (!info_printed)
				kprintf("virtio-mmio at %lx: device id %u is not a block device: skipped\n",
					mmios[i].base, mmios[i].device_id);
			continue;
		}
		for (int j = 0; j < blk_ndisks; j++)
			if (blk_disks[j].m->irq == mmios[i].irq) {
				format(msg, sizeof msg, "disks %d and %d share irq %u: this driver routes one irq to one disk",
				       j, blk_ndisks, mmios[i].irq);
				return msg;
			}
		struct blk_dev *d = &blk_disks[blk_ndisks];
		zero_mem(d, sizeof *d);
		d->m = &mmios[i];
		d->slot = blk_ndisks++;
		d->polling = poll != 0;
		why = blk_init(d);
		if (why) {
			format(msg, sizeof msg, "disk %d at %lx: %s", d->slot, d->m->base, why);
			return msg;
		}
		if (!info_printed)
			blk_print_info(d);
	}
	info_printed = true;
	return NULL;
}

/*
 * blk_close_all resets every disk, so none touches guest RAM afterwards.
 * Returns false if one did not finish its reset: its memory must not be
 * reused.
 */
bool blk_close_all(void)
{
	bool ok = true;
	u64 timeout = blk_timeout_us();
	for (int i = 0; i < blk_ndisks; i++) {
		struct blk_dev *d = &blk_disks[i];
		if (d->m->irq < ioapic_pins())
			ioapic_set_masked(d->m->irq, true);
		if (!vmmio_reset(d->m, timeout))
			ok = false;
		d->live = false;
	}
	lapic_timer_stop();
	return ok;
}

/* blk_reqs_alloc returns n zeroed requests, each with an indirect table of itable_cap entries. */
struct blk_req *blk_reqs_alloc(u32 n, u16 itable_cap)
{
	struct blk_req *r = bump_alloc((u64)n * sizeof *r, 64);
	if (!r)
		return NULL;
	zero_mem(r, (u64)n * sizeof *r);
	if (itable_cap) {
		struct vq_desc *t = bump_alloc((u64)n * itable_cap * sizeof *t, 16);
		if (!t)
			return NULL;
		for (u32 i = 0; i < n; i++) {
			r[i].itable = t + (u64)i * itable_cap;
			r[i].itable_cap = itable_cap;
		}
	}
	return r;
}

static inline void set_desc(struct vq_desc *d, const volatile void *addr, u32 len, u16 flags, u16 next)
{
	d->addr = (u64)(uintptr_t)addr;
	d->len = len;
	d->flags = flags;
	d->next = next;
}

/*
 * blk_submit puts request r in the ring (without notifying): header, nseg
 * data descriptors (device-writable for IN and GET_ID), status. With
 * indirect the chain goes into r's table and takes one ring slot.
 */
const char *blk_submit(struct blk_dev *d, struct blk_req *r, u32 type, u64 sector,
		       const struct blk_seg *seg, u32 nseg, bool indirect)
{
	struct virtq *q = &d->vq;
	u32 n = nseg + 2;
	if (n > q->size)
		return blk_errf(d, "a chain of %u descriptors is longer than the queue (%u)", n, q->size);
	bool dev_writes = type == BLK_T_IN || type == BLK_T_GET_ID;
	u16 dflags = dev_writes ? VQ_DESC_F_WRITE : 0;
	r->type = type;
	r->reserved = 0;
	r->sector = sector;
	r->status = BLK_S_NONE;
	r->done = false;
	r->used_len = 0;
	r->writable = 1;
	u16 head;
	if (indirect) {
		if (!(d->features & FEATURE(VIRTIO_F_INDIRECT_DESC)))
			return "INDIRECT_DESC is not negotiated";
		if (r->itable_cap < n)
			return blk_errf(d, "request has an indirect table of %u entries, needs %u",
					r->itable_cap, n);
		struct vq_desc *t = r->itable;
		set_desc(&t[0], r, 16, VQ_DESC_F_NEXT, 1);
		for (u32 i = 0; i < nseg; i++) {
			set_desc(&t[i + 1], seg[i].addr, seg[i].len, dflags | VQ_DESC_F_NEXT, (u16)(i + 2));
			if (dev_writes)
				r->writable += seg[i].len;
		}
		set_desc(&t[n - 1], &r->status, 1, VQ_DESC_F_WRITE, 0);
		if (!vq_take(q, 1, &head))
			return "the ring has no free descriptor";
		set_desc(&q->desc[head], t, n * (u32)sizeof *t, VQ_DESC_F_INDIRECT, 0);
		r->nring = 1;
	} else {
		u16 idx[VQ_MAX_SIZE];
		if (!vq_take(q, (u16)n, idx))
			return blk_errf(d, "the ring has %u free descriptors, the request needs %u",
					vq_free_count(q), n);
		set_desc(&q->desc[idx[0]], r, 16, VQ_DESC_F_NEXT, idx[1]);
		for (u32 i = 0; i < nseg; i++) {
			set_desc(&q->desc[idx[i + 1]], seg[i].addr, seg[i].len, dflags | VQ_DESC_F_NEXT,
				 idx[i + 2]);
			if (dev_writes)
				r->writable += seg[i].len;
		}
		set_desc(&q->desc[idx[n - 1]], &r->status, 1, VQ_DESC_F_WRITE, 0);
		head = idx[0];
		r->nring = (u16)n;
	}
	r->head = head;
	r->seq = d->seq++;
	d->by_head[head] = r;
	vq_publish(q, head);
	return NULL;
}

/*
 * blk_reap consumes every used entry, marks its request done and returns
 * its descriptors; returns how many. A head that is not in flight, or a
 * used length the chain cannot hold, is a violation: reaping stops.
 */
int blk_reap(struct blk_dev *d)
{
	struct virtq *q = &d->vq;
	struct vq_used_elem e;
	const char *why;
	int n = 0, rc;
	while (!d->err[0] && (rc = vq_pop(q, &e, &why)) != 0) {
		if (rc < 0) {
			blk_violation(d, "%s (used idx %u, consumed %u, in flight %u)", why,
				      ld16(&q->used->idx), q->last_used, q->in_flight);
			break;
		}
		struct blk_req *r = e.id < q->size ? d->by_head[e.id] : NULL;
		if (!r) {
			blk_violation(d, "used entry %u names head %u, which is not in flight",
				      (u16)(q->last_used - 1), e.id);
			break;
		}
		d->by_head[e.id] = NULL;
		if (!vq_give_chain(q, (u16)e.id, r->nring)) {
			blk_violation(d, "the chain at head %u no longer links its %u descriptors "
				      "(did the device write the descriptor table?)", e.id, r->nring);
			break;
		}
		r->used_len = e.len;
		if (e.len > r->writable)
			blk_violation(d, "used len %u for a type %u request with %u device-writable bytes",
				      e.len, r->type, r->writable);
		else if (r->status == BLK_S_OK && e.len != r->writable)
			blk_violation(d, "used len %u for a successful type %u request, want %u (every "
				      "device-writable byte up to and including status)",
				      e.len, r->type, r->writable);
		if (r->seq < d->max_done_seq)
			d->out_of_order++;
		else
			d->max_done_seq = r->seq;
		r->done = true;
		n++;
	}
	d->completions += (u64)n;
	if (n && d->polling)
		vq_no_interrupt(q); /* keep used_event out of reach */
	return n;
}

static const char *timed_out(struct blk_dev *d, u64 waited_us)
{
	struct virtq *q = &d->vq;
	u16 used = ld16(&q->used->idx);
	if (!d->polling && used != q->last_used)
		return blk_errf(d, "lost interrupt: the device put %u entries in the used ring (idx %u) "
				"but raised no interrupt in %lu ms (used_event %u, %lu interrupts so far)",
				(u16)(used - q->last_used), used, waited_us / 1000,
				q->event_idx ? *q->used_event : 0, d->irqs);
	return blk_errf(d, "no completion within %lu ms: %u in flight, used idx %u, avail idx %u, "
			"avail_event %u, %lu QueueNotify writes, Status %x, InterruptStatus %x",
			waited_us / 1000, q->in_flight, used, q->shadow_avail, *q->avail_event,
			q->notifies, vmmio_status(d->m), vmmio_rd(d->m, VMMIO_INTERRUPT_STATUS));
}

/*
 * blk_wait_any returns once at least one request completed, or why not. In
 * interrupt mode it reaps only after an interrupt for this disk.
 */
const char *blk_wait_any(struct blk_dev *d)
{
	u64 timeout = blk_timeout_us();
	u64 deadline = rdtsc() + timeout_cycles;
	if (d->vq.in_flight == 0)
		return "waiting with nothing in flight";
	for (;;) {
		int n = blk_reap(d);
		if (d->err[0])
			return blk_errf(d, "device violated the spec: %s", d->err);
		if (n)
			return NULL;
		if (d->polling) {
			for (u32 spin = 0; !vq_has_used(&d->vq) && spin < 4096; spin++)
				cpu_relax();
			if (!vq_has_used(&d->vq) && rdtsc() > deadline)
				return timed_out(d, timeout);
			continue;
		}
		vq_want_interrupt(&d->vq);
		if (vq_has_used(&d->vq))
			continue; /* it came before the device could see used_event: no interrupt is due */
		u64 seen = d->irqs;
		while (d->irqs == seen) {
			if (rdtsc() > deadline)
				return timed_out(d, timeout);
			__asm__ volatile("sti; hlt; cli" ::: "memory");
		}
	}
}

const char *blk_wait_req(struct blk_dev *d, struct blk_req *r)
{
	while (!r->done) {
		const char *why = blk_wait_any(d);
		if (why)
			return why;
	}
	return NULL;
}

const char *blk_wait_all(struct blk_dev *d)
{
	while (d->vq.in_flight) {
		const char *why = blk_wait_any(d);
		if (why)
			return why;
	}
	return NULL;
}

/*
 * wait_for_irq waits for r in interrupt mode without looking at the used
 * ring first: it reaps only after an interrupt whose InterruptStatus said
 * "used buffer". The caller asked for that interrupt before submitting, so
 * the device owes it, however fast it completed.
 */
static const char *wait_for_irq(struct blk_dev *d, struct blk_req *r)
{
	u64 deadline = rdtsc() + timeout_cycles;
	while (!r->done) {
		u64 seen = d->irqs - d->irq_no_used;
		while (d->irqs - d->irq_no_used == seen) {
			if (rdtsc() > deadline)
				return timed_out(d, timeout_us);
			__asm__ volatile("sti; hlt; cli" ::: "memory");
		}
		blk_reap(d);
		if (d->err[0])
			return blk_errf(d, "device violated the spec: %s", d->err);
	}
	return NULL;
}

/*
 * blk_do submits one request, notifies if due, and waits for it; the
 * caller checks r->status. In interrupt mode with nothing else in flight
 * the completion must come with an interrupt (wait_for_irq): a device that
 * never interrupts fails here even if it is fast.
 */
const char *blk_do(struct blk_dev *d, struct blk_req *r, u32 type, u64 sector,
		   const struct blk_seg *seg, u32 nseg, bool indirect)
{
	bool strict = !d->polling && d->vq.in_flight == 0;
	if (strict)
		vq_want_interrupt(&d->vq); /* used_event = the entry this request will take */
	const char *why = blk_submit(d, r, type, sector, seg, nseg, indirect);
	if (why)
		return why;
	blk_kick(d);
	return strict ? wait_for_irq(d, r) : blk_wait_req(d, r);
}

/*
 * blk_io reads (BLK_T_IN) or writes (BLK_T_OUT) len bytes at sector
 * through buf, split into requests and segments within SEG_MAX and
 * SIZE_MAX, one at a time; every request must end with status OK.
 */
const char *blk_io(struct blk_dev *d, u32 type, u64 sector, void *buf, u64 len)
{
	if (len % SECTOR)
		return blk_errf(d, "blk_io of %lu bytes: not whole sectors", len);
	u32 nseg_max = blk_max_segs(d), seg_bytes = blk_max_seg_bytes(d);
	if (nseg_max > IO_MAX_SEGS)
		nseg_max = IO_MAX_SEGS;
	u64 req_max = (u64)nseg_max * seg_bytes;
	if (req_max > IO_MAX_BYTES)
		req_max = IO_MAX_BYTES;
	req_max -= req_max % SECTOR;
	if (req_max == 0)
		return "SEG_MAX x SIZE_MAX is below one sector";
	u8 *p = buf;
	struct blk_seg seg[IO_MAX_SEGS];
	while (len) {
		u64 chunk = len < req_max ? len : req_max;
		u32 n = 0;
		for (u64 off = 0; off < chunk; off += seg_bytes, n++) {
			seg[n].addr = p + off;
			seg[n].len = (u32)(chunk - off < seg_bytes ? chunk - off : seg_bytes);
		}
		const char *why = blk_do(d, d->sync, type, sector, seg, n, false);
		if (why)
			return why;
		if (d->sync->status != BLK_S_OK)
			return blk_errf(d, "%s of %lu bytes at sector %lu: status %s",
					type == BLK_T_IN ? "read" : "write", chunk, sector,
					blk_status_name(d->sync->status));
		p += chunk;
		sector += chunk / SECTOR;
		len -= chunk;
	}
	return NULL;
}
