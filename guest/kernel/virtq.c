/*
 * virtq.c: one split virtqueue (virtio 1.x, 2.7) in guest RAM, with the
 * event-index notification suppression of 2.7.7 and 2.7.10.
 *
 * The layer is deliberately raw: vq_take hands out descriptor slots and
 * vq_publish puts any head into the avail ring, so a case can build a chain
 * the device must refuse. Freed slots go back on a stack, never through
 * the descriptors' next fields, so a garbage chain cannot corrupt the free
 * list.
 */
#include "virtio.h"

const char *vq_init(struct virtq *q, const struct vmmio *m, u16 index, u16 size, bool event_idx)
{
	if (size == 0 || size > VQ_MAX_SIZE || (size & (size - 1)))
		return "queue size is not a power of two up to 256";
	u64 dsz = 16ULL * size, asz = 6 + 2ULL * size, usz = 6 + 8ULL * size;
	/* Separate pages: the device writes only the used ring, the driver the rest. */
	void *desc = bump_alloc(dsz, 4096), *avail = bump_alloc(asz, 4096), *used = bump_alloc(usz, 4096);
	if (!desc || !avail || !used)
		return "out of guest RAM for the virtqueue";
	zero_mem(desc, dsz);
	zero_mem(avail, asz);
	zero_mem(used, usz);
	q->m = m;
	q->index = index;
	q->size = size;
	q->event_idx = event_idx;
	q->desc = desc;
	q->avail = avail;
	q->used = used;
	q->used_event = &q->avail->ring[size];
	q->avail_event = (volatile u16 *)&q->used->ring[size];
	q->shadow_avail = q->kicked = q->last_used = q->in_flight = 0;
	q->notifies = q->kicks = 0;
	q->free_top = 0;
	for (u16 i = size; i-- > 0;) {
		q->free[q->free_top++] = i; /* pops come out 0, 1, 2, ... */
		q->taken[i] = 0;
	}
	return vmmio_queue_setup(m, index, size, (u64)(uintptr_t)desc, (u64)(uintptr_t)avail,
				 (u64)(uintptr_t)used);
}

/* vq_take reserves n descriptor slots, written to out[]; false (nothing taken) if fewer are free. */
bool vq_take(struct virtq *q, u16 n, u16 *out)
{
	if (n > q->free_top)
		return false;
	for (u16 i = 0; i < n; i++) {
		u16 d = q->free[--q->free_top];
		q->taken[d] = 1;
		out[i] = d;
	}
	return true;
}

/* vq_give returns one slot; false if it is out of range or not taken (a double free). */
bool vq_give(struct virtq *q, u16 idx)
{
	if (idx >= q->size || !q->taken[idx])
		return false;
	q->taken[idx] = 0;
	q->free[q->free_top++] = idx;
	return true;
}

/* vq_give_chain returns the n slots of the chain at head, following the next fields it was built with. */
bool vq_give_chain(struct virtq *q, u16 head, u16 n)
{
	u16 d = head;
	for (u16 i = 0; i < n; i++) {
		if (d >= q->size)
			return false;
		u16 next = q->desc[d].next;
		if (!vq_give(q, d))
			return false;
		d = next;
	}
	return true;
}

/*
 * vq_publish makes the chain at head available. x86 keeps stores in order,
 * so the descriptors and the ring entry are visible before the index; the
 * compiler barrier keeps gcc from reordering them.
 */
void vq_publish(struct virtq *q, u16 head)
{
	q->avail->ring[q->shadow_avail & (q->size - 1)] = head;
	barrier();
	q->shadow_avail++;
	st16(&q->avail->idx, q->shadow_avail);
	q->in_flight++;
}

/* need_event: has the index moved past event in the step from old to new (2.7.10)? */
static inline bool need_event(u16 event, u16 new, u16 old)
{
	return (u16)(new - event - 1) < (u16)(new - old);
}

/*
 * vq_kick writes QueueNotify if the device asked to hear about the buffers
 * published since the last kick: with EVENT_IDX when avail_event lies among
 * them, without it unless the device set VIRTQ_USED_F_NO_NOTIFY. Returns
 * whether it wrote.
 */
bool vq_kick(struct virtq *q)
{
	u16 new = q->shadow_avail, old = q->kicked;
	if (new == old)
		return false;
	q->kicked = new;
	q->kicks++;
	full_barrier(); /* the avail idx store must be visible before we read the device's wish */
	bool need = q->event_idx ? need_event(*q->avail_event, new, old)
				 : !(ld16(&q->used->flags) & VQ_USED_F_NO_NOTIFY);
	if (need) {
		vmmio_notify(q->m, q->index);
		q->notifies++;
	}
	return need;
}

bool vq_has_used(const struct virtq *q)
{
	return ld16(&q->used->idx) != q->last_used;
}

/*
 * vq_pop takes the next used element: 1 with *e filled, 0 when there is
 * none, -1 with *why when the device's used index claims more completions
 * than there are buffers in flight.
 */
int vq_pop(struct virtq *q, struct vq_used_elem *e, const char **why)
{
	u16 idx = ld16(&q->used->idx);
	if (idx == q->last_used)
		return 0;
	if ((u16)(idx - q->last_used) > q->in_flight) {
		*why = "the used ring's idx moved past the buffers in flight";
		return -1;
	}
	barrier(); /* x86 keeps loads in order: the entry is read after idx */
	volatile struct vq_used_elem *u = &q->used->ring[q->last_used & (q->size - 1)];
	e->id = u->id;
	e->len = u->len;
	q->last_used++;
	q->in_flight--;
	return 1;
}

/*
 * vq_want_interrupt asks for an interrupt at the next used entry: with
 * EVENT_IDX by setting used_event to the entry we wait for, without it by
 * clearing VIRTQ_AVAIL_F_NO_INTERRUPT. The caller must check vq_has_used
 * afterwards: an entry the device wrote before it saw the request gets no
 * interrupt.
 */
void vq_want_interrupt(struct virtq *q)
{
	if (q->event_idx)
		*q->used_event = q->last_used;
	else
		st16(&q->avail->flags, 0);
	full_barrier();
}

/* vq_no_interrupt asks for none: used_event half the index space away, or the flag. */
void vq_no_interrupt(struct virtq *q)
{
	if (q->event_idx)
		*q->used_event = (u16)(q->last_used + 0x8000);
	else
		st16(&q->avail->flags, VQ_AVAIL_F_NO_INTERRUPT);
}
