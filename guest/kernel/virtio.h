/*
 * virtio.h: the virtio-mmio block driver, in four layers (docs/guest.md,
 * "virtio-blk driver"):
 *
 *   bump.c        guest RAM for rings and buffers (a bump allocator)
 *   ioapic.c      routes a device's irq to a vector on the BSP (shared, tiny.h)
 *   virtio_mmio.c discovery from the command line, the register file
 *   virtq.c       one split virtqueue: descriptors, avail, used, event idx
 *   virtio_blk.c  the block device: negotiation, requests, completions
 *
 * Everything is identity mapped, so a kernel pointer is also the
 * guest-physical address the device sees.
 */
#ifndef TINY_VIRTIO_H
#define TINY_VIRTIO_H

#include "tiny.h"

/* Unaligned, alias-safe 64-bit access for patterns in odd buffers. */
typedef u64 u64u __attribute__((aligned(1), may_alias));

static inline u16 ld16(const volatile void *p)
{
	return *(const volatile u16 *)p;
}

static inline void st16(volatile void *p, u16 v)
{
	*(volatile u16 *)p = v;
}

static inline u32 ld32(const volatile void *p)
{
	return *(const volatile u32 *)p;
}

/*
 * full_barrier orders earlier stores before later loads, the one reordering
 * x86 does (a locked RMW on the stack is the cheapest full barrier; it is
 * what Linux uses for smp_mb on x86-64). Store-store and load-load order
 * need only the compiler barrier(), x86 keeps them.
 */
static inline void full_barrier(void)
{
	__asm__ volatile("lock orq $0, (%%rsp)" ::: "memory", "cc");
}

/* bump.c */
void *bump_alloc(u64 size, u64 align); /* NULL when RAM runs out */
u64 bump_mark(void);
void bump_release(u64 mark);
u64 bump_left(void);
void zero_mem(void *p, u64 n);

/* virtio_mmio.c */
#define VIRTIO_MMIO_MAX 16      /* virtio_mmio.device= entries accepted */
#define VIRTIO_MMIO_MIN_SIZE 0x200
#define VIRTIO_MMIO_MAGIC 0x74726976 /* "virt" */
#define VIRTIO_ID_BLOCK 2

/* Register offsets (virtio 1.x, 4.2.2: MMIO Device Register Layout). */
#define VMMIO_MAGIC 0x000
#define VMMIO_VERSION 0x004
#define VMMIO_DEVICE_ID 0x008
#define VMMIO_VENDOR_ID 0x00c
#define VMMIO_DEVICE_FEATURES 0x010
#define VMMIO_DEVICE_FEATURES_SEL 0x014
#define VMMIO_DRIVER_FEATURES 0x020
#define VMMIO_DRIVER_FEATURES_SEL 0x024
#define VMMIO_QUEUE_SEL 0x030
#define VMMIO_QUEUE_NUM_MAX 0x034
#define VMMIO_QUEUE_NUM 0x038
#define VMMIO_QUEUE_READY 0x044
#define VMMIO_QUEUE_NOTIFY 0x050
#define VMMIO_INTERRUPT_STATUS 0x060
#define VMMIO_INTERRUPT_ACK 0x064
#define VMMIO_STATUS 0x070
#define VMMIO_QUEUE_DESC_LOW 0x080
#define VMMIO_QUEUE_DESC_HIGH 0x084
#define VMMIO_QUEUE_DRIVER_LOW 0x090
#define VMMIO_QUEUE_DRIVER_HIGH 0x094
#define VMMIO_QUEUE_DEVICE_LOW 0x0a0
#define VMMIO_QUEUE_DEVICE_HIGH 0x0a4
#define VMMIO_CONFIG_GENERATION 0x0fc
#define VMMIO_CONFIG 0x100

/* Device status bits (2.1). */
#define VSTAT_ACKNOWLEDGE 1
#define VSTAT_DRIVER 2
#define VSTAT_DRIVER_OK 4
#define VSTAT_FEATURES_OK 8
#define VSTAT_NEEDS_RESET 64
#define VSTAT_FAILED 128

/* InterruptStatus bits. */
#define VINT_USED 1
#define VINT_CONFIG 2

/* Generic feature bits (6). */
#define VIRTIO_F_INDIRECT_DESC 28
#define VIRTIO_F_EVENT_IDX 29
#define VIRTIO_F_VERSION_1 32

struct vmmio {
	u64 base, size;
	u32 irq;       /* IOAPIC pin (the GSI; ISA IRQs map 1:1 here) */
	i64 id;        /* the optional :<id>, -1 when absent */
	u32 version;   /* read at discovery */
	u32 device_id;
	u32 vendor_id;
};

int vmmio_discover(struct vmmio *out, int max, const char **why);
bool parse_num(const char *s, size_t n, u64 *out); /* decimal or 0x-hex */
bool cmdline_u64(const char *key, u64 *out);       /* key=<decimal or 0x-hex> */

static inline u32 vmmio_rd(const struct vmmio *m, u32 off)
{
	return mmio_read32(m->base + off);
}

static inline void vmmio_wr(const struct vmmio *m, u32 off, u32 v)
{
	mmio_write32(m->base + off, v);
}

static inline void vmmio_notify(const struct vmmio *m, u32 queue)
{
	mmio_write32(m->base + VMMIO_QUEUE_NOTIFY, queue);
}

bool vmmio_reset(const struct vmmio *m, u64 timeout_us);
u32 vmmio_status(const struct vmmio *m);
void vmmio_set_status(const struct vmmio *m, u32 status);
u64 vmmio_device_features(const struct vmmio *m);
void vmmio_driver_features(const struct vmmio *m, u64 features);
u32 vmmio_queue_num_max(const struct vmmio *m, u32 queue);
const char *vmmio_queue_setup(const struct vmmio *m, u32 queue, u32 size, u64 desc, u64 avail,
			      u64 used);
u8 vmmio_cfg8(const struct vmmio *m, u32 off);
u16 vmmio_cfg16(const struct vmmio *m, u32 off);
u32 vmmio_cfg32(const struct vmmio *m, u32 off);
bool vmmio_cfg64(const struct vmmio *m, u32 off, u64 *out);

/* virtq.c: one split virtqueue (2.7). */
#define VQ_MAX_SIZE 256

#define VQ_DESC_F_NEXT 1
#define VQ_DESC_F_WRITE 2
#define VQ_DESC_F_INDIRECT 4
#define VQ_AVAIL_F_NO_INTERRUPT 1
#define VQ_USED_F_NO_NOTIFY 1

struct vq_desc {
	u64 addr;
	u32 len;
	u16 flags;
	u16 next;
};

struct vq_avail {
	u16 flags;
	u16 idx;
	u16 ring[]; /* size entries, then used_event */
};

struct vq_used_elem {
	u32 id;
	u32 len;
};

struct vq_used {
	u16 flags;
	u16 idx;
	struct vq_used_elem ring[]; /* size entries, then avail_event */
};

struct virtq {
	const struct vmmio *m;
	u16 index;
	u16 size; /* a power of two */
	bool event_idx;
	struct vq_desc *desc;
	struct vq_avail *avail;
	struct vq_used *used;
	volatile u16 *used_event;  /* avail->ring[size] */
	volatile u16 *avail_event; /* (u16 *)&used->ring[size] */
	u16 shadow_avail;          /* avail->idx as last published */
	u16 kicked;                /* avail idx when the last notify decision was made */
	u16 last_used;             /* next used entry to consume */
	u16 in_flight;             /* published and not yet consumed */
	u16 free_top;
	u16 free[VQ_MAX_SIZE];     /* stack of free descriptor indices */
	u8 taken[VQ_MAX_SIZE];     /* catches double frees */
	u64 notifies;              /* QueueNotify writes */
	u64 kicks;                 /* notify decisions with new buffers */
};

const char *vq_init(struct virtq *q, const struct vmmio *m, u16 index, u16 size, bool event_idx);
/* The raw layer: hostile cases may write any descriptor they take. */
bool vq_take(struct virtq *q, u16 n, u16 *out);
bool vq_give(struct virtq *q, u16 idx);
bool vq_give_chain(struct virtq *q, u16 head, u16 n);
void vq_publish(struct virtq *q, u16 head);
bool vq_kick(struct virtq *q);
int vq_pop(struct virtq *q, struct vq_used_elem *e, const char **why);
bool vq_has_used(const struct virtq *q);
void vq_want_interrupt(struct virtq *q);
void vq_no_interrupt(struct virtq *q);

static inline u16 vq_free_count(const struct virtq *q)
{
	return q->free_top;
}

/* virtio_blk.c (5.2). */
#define BLK_F_SIZE_MAX 1
#define BLK_F_SEG_MAX 2
#define BLK_F_RO 5
#define BLK_F_BLK_SIZE 6
#define BLK_F_FLUSH 9
#define BLK_F_TOPOLOGY 10
#define BLK_F_DISCARD 13
#define BLK_F_WRITE_ZEROES 14

#define BLK_T_IN 0
#define BLK_T_OUT 1
#define BLK_T_FLUSH 4
#define BLK_T_GET_ID 8
#define BLK_T_DISCARD 11
#define BLK_T_WRITE_ZEROES 13

#define BLK_S_OK 0
#define BLK_S_IOERR 1
#define BLK_S_UNSUPP 2
#define BLK_S_NONE 0xff /* what the driver leaves before submitting */

#define BLK_ID_BYTES 20
#define BLK_DWZ_F_UNMAP 1
#define BLK_DWZ_MAX 4 /* discard/write-zeroes segments one request carries */
#define BLK_MAX_DISKS VIRTIO_MMIO_MAX
#define SECTOR 512

#define FEATURE(f) (1ULL << (f))

struct blk_seg {
	void *addr;
	u32 len;
};

struct blk_dwz {
	u64 sector;
	u32 num_sectors;
	u32 flags;
};

struct blk_req {
	/* Device-visible: the 16-byte header, the status byte, discard/write-zeroes ranges. */
	u32 type;
	u32 reserved;
	u64 sector;
	volatile u8 status;
	u8 pad[7];
	struct blk_dwz dwz[BLK_DWZ_MAX];
	/* Driver bookkeeping. */
	volatile bool done;
	u16 head;
	u16 nring;       /* descriptors this request holds in the ring */
	u32 writable;    /* device-writable bytes in the chain, status included */
	u32 used_len;
	u64 seq;         /* submission order */
	struct vq_desc *itable; /* indirect table, itable_cap entries */
	u16 itable_cap;
	u32 tag;         /* free for the caller */
};

struct blk_dev {
	const struct vmmio *m;
	int slot; /* index in the disk table; vector VECTOR_VIRTIO_BASE + slot */
	u64 offered, features;
	u64 capacity; /* 512-byte sectors */
	u32 lbs;      /* logical block size in bytes: blk_size, else 512 */
	u32 size_max, seg_max;
	u8 phys_block_exp, align_offset;
	u16 min_io_size;
	u32 opt_io_size;
	u32 max_discard_sectors, max_discard_seg, discard_align;
	u32 max_wz_sectors, max_wz_seg;
	u8 wz_may_unmap;
	u32 queue_max;
	bool polling;
	bool live; /* DRIVER_OK set and not reset since */
	u64 drop;  /* features blk_init declines besides blk_nofeat= (hostile cases) */
	struct virtq vq;
	struct blk_req *by_head[VQ_MAX_SIZE];
	u64 seq, max_done_seq;
	u64 completions, out_of_order;
	volatile u64 irqs;      /* interrupts taken for this device */
	volatile u64 irq_no_used; /* of those, with InterruptStatus bit 0 clear */
	volatile u64 config_irqs;
	struct blk_req *sync; /* the request blk_io and blk_cmd use */
	char err[200];        /* the first protocol violation seen, "" if none */
	char why[240];        /* the reason the last failing call returned */
};

extern struct blk_dev blk_disks[BLK_MAX_DISKS];
extern int blk_ndisks;

const char *blk_open_all(void);
bool blk_close_all(void);
const char *blk_reinit(struct blk_dev *d);
void blk_set_polling(struct blk_dev *d, bool polling);
u64 blk_timeout_us(void);
const char *blk_errf(struct blk_dev *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void blk_violation(struct blk_dev *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

struct blk_req *blk_reqs_alloc(u32 n, u16 itable_cap);
const char *blk_submit(struct blk_dev *d, struct blk_req *r, u32 type, u64 sector,
		       const struct blk_seg *seg, u32 nseg, bool indirect);
static inline bool blk_kick(struct blk_dev *d)
{
	return vq_kick(&d->vq);
}
int blk_reap(struct blk_dev *d);
const char *blk_wait_any(struct blk_dev *d);
const char *blk_wait_req(struct blk_dev *d, struct blk_req *r);
const char *blk_wait_all(struct blk_dev *d);
const char *blk_do(struct blk_dev *d, struct blk_req *r, u32 type, u64 sector,
		   const struct blk_seg *seg, u32 nseg, bool indirect);
const char *blk_io(struct blk_dev *d, u32 type, u64 sector, void *buf, u64 len);
u32 blk_max_segs(const struct blk_dev *d);
u32 blk_max_seg_bytes(const struct blk_dev *d);
bool blk_writable(const struct blk_dev *d);
const char *blk_status_name(u8 status);
void blk_print_info(const struct blk_dev *d);

#endif
