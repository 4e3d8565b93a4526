/*
 * tests_blk.c: the virtio-blk cases (docs/guest.md, "virtio-blk cases").
 * Each case brings up every disk on the command line, works on the regions
 * below, and resets the disks before it returns, so the next case starts
 * from a clean device and its memory can be reused.
 *
 * Disk regions in 512-byte sectors; a writable disk needs MIN_SECTORS for
 * the functional cases:
 *   [0, 2048)        blk_rw, blk_flush
 *   [2048, 2304)     the host-check pattern blk_rw leaves behind
 *   [4096, 4736)     blk_multiseg
 *   [4736, 5632)     blk_indirect (segments, then one request per ring slot)
 *   [5632, 6144)     blk_qd64
 *   [6144, 6416)     blk_reset
 *   [8192, 12288)    blk_discard
 *   [12288, 16384)   blk_zeroes
 *   [16384, 32768)   blk_perf
 *   [32768, end)     blk_crash
 */
#include "virtio.h"

#define HOSTCHECK_START 2048
#define HOSTCHECK_SECTORS 256
#define HOSTCHECK_TAG 0x564d4d424c4b0000ULL /* "\0\0KLBMMV": VMMBLK in the high bytes */
#define MULTISEG_START 4096
#define INDIRECT_START 4736
#define RINGFILL_START 5376
#define RINGFILL_SECTORS 256
#define QD_START 5632
#define RESET_START 6144
#define MAX_BLOCK 4096 /* the regions above assume blocks of at most 4 KiB */
#define DISCARD_START 8192
#define ZEROES_START 12288
#define PERF_START 16384
#define PERF_END 32768
#define CRASH_START 32768
#define MIN_SECTORS 16384

#define CRASH_MAGIC 0x485341524b4c4256ULL /* "VBLKRASH" in little-endian bytes */
#define CRASH_BLOCK 4096
#define FNV_OFFSET 0xcbf29ce484222325ULL
#define FNV_PRIME 0x100000001b3ULL

/* ---- patterns and buffers ---- */

static u64 nonce;

/* case_tag makes a per-boot tag, so a stale image can never pass a read-back by luck. */
static u64 case_tag(u64 id)
{
	if (!nonce)
		nonce = rdtsc() * 0x9E3779B97F4A7C15ULL | 1;
	return id << 56 ^ (nonce & 0xffffULL) << 40;
}

static inline u64 pattern_word(u64 tag, u64 sector, u64 off)
{
	return tag ^ sector << 16 ^ off;
}

/* pattern_fill writes nsect sectors of pattern starting at disk sector `sector` into buf. */
static void pattern_fill(void *buf, u64 sector, u64 nsect, u64 tag)
{
	u64u *w = buf;
	for (u64 s = 0; s < nsect; s++)
		for (u64 o = 0; o < SECTOR; o += 8)
			*w++ = pattern_word(tag, sector + s, o);
}

/* pattern_find_bad returns the byte offset of the first word that differs, or nsect*512. */
static u64 pattern_find_bad(const void *buf, u64 sector, u64 nsect, u64 tag)
{
	const u64u *w = buf;
	for (u64 s = 0; s < nsect; s++)
		for (u64 o = 0; o < SECTOR; o += 8, w++)
			if (*w != pattern_word(tag, sector + s, o))
				return s * SECTOR + o;
	return nsect * SECTOR;
}

static const char *pattern_check(struct blk_dev *d, const void *buf, u64 sector, u64 nsect,
				 u64 tag, const char *what)
{
	u64 bad = pattern_find_bad(buf, sector, nsect, tag);
	if (bad == nsect * SECTOR)
		return NULL;
	u64 s = sector + bad / SECTOR, o = bad % SECTOR;
	return blk_errf(d, "%s: sector %lu byte %lu reads %lx, want %lx", what, s, o,
			*(const u64u *)((const u8 *)buf + bad), pattern_word(tag, s, o));
}

static u64 first_nonzero(const void *buf, u64 len)
{
	const u64u *w = buf;
	for (u64 i = 0; i < len / 8; i++)
		if (w[i])
			return i * 8;
	return len;
}

static void copy_bytes(void *dst, const void *src, u64 n)
{
	u64u *d = dst;
	const u64u *s = src;
	for (; n >= 8; n -= 8)
		*d++ = *s++;
	u8 *db = (u8 *)d;
	const u8 *sb = (const u8 *)s;
	while (n--)
		*db++ = *sb++;
}

static void *alloc_buf(u64 len, u64 align)
{
	return bump_alloc(len, align);
}

/* fill_mem sets len bytes to c, a word at a time. */
static void fill_mem(void *buf, u8 c, u64 len)
{
	u64u *w = buf;
	u64 v = 0x0101010101010101ULL * c;
	for (; len >= 8; len -= 8)
		*w++ = v;
	u8 *b = (u8 *)w;
	while (len--)
		*b++ = c;
}

/* build_segs splits [buf, buf+len) into SIZE_MAX-sized segments; 0 if more than max are needed. */
static u32 build_segs(const struct blk_dev *d, void *buf, u32 len, struct blk_seg *seg, u32 max)
{
	u32 sb = blk_max_seg_bytes(d), n = 0;
	for (u32 off = 0; off < len; off += sb) {
		if (n == max)
			return 0;
		seg[n].addr = (u8 *)buf + off;
		seg[n].len = len - off < sb ? len - off : sb;
		n++;
	}
	return n;
}

/* one_request does one request over one buffer and requires status want. */
static const char *one_request(struct blk_dev *d, struct blk_req *r, u32 type, u64 sector,
			       void *buf, u32 len, bool indirect, u8 want)
{
	struct blk_seg seg[64];
	u32 max = blk_max_segs(d) < 64 ? blk_max_segs(d) : 64;
	u32 n = len ? build_segs(d, buf, len, seg, max) : 0;
	if (len && !n)
		return blk_errf(d, "a %u-byte request needs more segments than SEG_MAX/SIZE_MAX allow "
				"(%u x %u)", len, blk_max_segs(d), blk_max_seg_bytes(d));
	const char *why = blk_do(d, r, type, sector, seg, n, indirect);
	if (why)
		return why;
	if (r->status != want)
		return blk_errf(d, "type %u request at sector %lu, %u bytes: status %s, want %s", type,
				sector, len, blk_status_name(r->status), blk_status_name(want));
	return NULL;
}

/* ---- case plumbing ---- */

typedef const char *(*disk_body)(struct blk_dev *d);

/* with_disks opens every disk, runs body, and always resets the disks afterwards. */
static const char *with_disks(const char *(*body)(void))
{
	u64 mark = bump_mark();
	const char *why = blk_open_all();
	if (!why)
		why = body();
	if (blk_close_all())
		bump_release(mark);
	else if (!why)
		why = "a disk did not finish its reset at the end of the case";
	return why;
}

static const char *for_each(bool (*want)(const struct blk_dev *d), disk_body body, int *count)
{
	*count = 0;
	for (int i = 0; i < blk_ndisks; i++) {
		struct blk_dev *d = &blk_disks[i];
		if (!want(d))
			continue;
		const char *why = body(d);
		if (why)
			return fail_reason("disk %d: %s", d->slot, why);
		(*count)++;
	}
	return NULL;
}

static bool any_disk(const struct blk_dev *d)
{
	(void)d;
	return true;
}

static bool writable(const struct blk_dev *d)
{
	return blk_writable(d);
}

static const char *need_size(struct blk_dev *d, u64 sectors)
{
	if (d->capacity < sectors)
		return blk_errf(d, "has %lu sectors; this case needs a writable disk of at least %lu "
				"(%lu MiB)", d->capacity, sectors, sectors / 2048);
	if (d->lbs > MAX_BLOCK)
		return blk_errf(d, "block size %u: the cases' disk regions assume at most %u", d->lbs,
				MAX_BLOCK);
	return NULL;
}

static const char *no_disk(const char *what)
{
	if (blk_ndisks == 0)
		return fail_reason("no virtio-blk disk on the command line (virtio_mmio.device=<size>@<base>:<irq>); "
				   "this case needs one that %s", what);
	return fail_reason("none of the %d virtio-blk disks %s", blk_ndisks, what);
}

/* ---- blk_rw ---- */

static const char *rw_disk(struct blk_dev *d)
{
	const char *why = need_size(d, MIN_SECTORS);
	if (why)
		return why;
	u64 spb = d->lbs / SECTOR, tag = case_tag(0x52);
	u8 *wbuf = alloc_buf(128 * KiB + 8192, 4096), *rbuf = alloc_buf(128 * KiB + 8192, 4096);
	struct blk_req *r = blk_reqs_alloc(1, 0);
	if (!wbuf || !rbuf || !r)
		return "out of guest RAM";

	/* Single blocks: each written, then each read back, so no read can hit a cache of its own write. */
	u64 singles[] = {0, spb, 5 * spb, 63 * spb, (d->capacity / spb - 1) * spb};
	for (u32 i = 0; i < sizeof singles / sizeof singles[0]; i++) {
		pattern_fill(wbuf, singles[i], spb, tag);
		if ((why = blk_io(d, BLK_T_OUT, singles[i], wbuf, d->lbs)))
			return why;
	}
	for (u32 i = 0; i < sizeof singles / sizeof singles[0]; i++) {
		zero_mem(rbuf, d->lbs);
		if ((why = blk_io(d, BLK_T_IN, singles[i], rbuf, d->lbs)) ||
		    (why = pattern_check(d, rbuf, singles[i], spb, tag, "single block")))
			return why;
	}

	/* One 64 KiB request each way, then the same range read back as 4 KiB requests. */
	const u64 ms = 256, mn = 128;
	pattern_fill(wbuf, ms, mn, tag);
	if ((why = one_request(d, r, BLK_T_OUT, ms, wbuf, mn * SECTOR, false, BLK_S_OK)))
		return why;
	zero_mem(rbuf, mn * SECTOR);
	if ((why = one_request(d, r, BLK_T_IN, ms, rbuf, mn * SECTOR, false, BLK_S_OK)) ||
	    (why = pattern_check(d, rbuf, ms, mn, tag, "64 KiB request")))
		return why;
	u64 step = 8 > spb ? 8 : spb;
	zero_mem(rbuf, mn * SECTOR);
	for (u64 s = 0; s < mn; s += step)
		if ((why = one_request(d, r, BLK_T_IN, ms + s, rbuf + s * SECTOR, (u32)(step * SECTOR),
				       false, BLK_S_OK)))
			return why;
	if ((why = pattern_check(d, rbuf, ms, mn, tag, "64 KiB written, read in pieces")))
		return why;

	/* Buffers at odd addresses, some crossing a page boundary; read into a differently odd one. */
	static const u32 woff[] = {1, 3, 511, 4095}, roff[] = {4093, 7, 2, 513};
	for (u32 i = 0; i < 4; i++) {
		u64 s = 512 + i * 4 * spb, n = 2 * spb;
		pattern_fill(wbuf + woff[i], s, n, tag ^ i);
		if ((why = one_request(d, r, BLK_T_OUT, s, wbuf + woff[i], (u32)(n * SECTOR), false,
				       BLK_S_OK)))
			return why;
		zero_mem(rbuf, 8192 + n * SECTOR);
		if ((why = one_request(d, r, BLK_T_IN, s, rbuf + roff[i], (u32)(n * SECTOR), false,
				       BLK_S_OK)) ||
		    (why = pattern_check(d, rbuf + roff[i], s, n, tag ^ i, "unaligned buffer")))
			return why;
	}

	/* The host-check pattern, left on the disk for the host to verify. */
	pattern_fill(wbuf, HOSTCHECK_START, HOSTCHECK_SECTORS, HOSTCHECK_TAG);
	if ((why = blk_io(d, BLK_T_OUT, HOSTCHECK_START, wbuf, HOSTCHECK_SECTORS * SECTOR)))
		return why;
	zero_mem(rbuf, HOSTCHECK_SECTORS * SECTOR);
	if ((why = blk_io(d, BLK_T_IN, HOSTCHECK_START, rbuf, HOSTCHECK_SECTORS * SECTOR)) ||
	    (why = pattern_check(d, rbuf, HOSTCHECK_START, HOSTCHECK_SECTORS, HOSTCHECK_TAG,
				 "host-check pattern")))
		return why;
	kprintf("blk_rw: disk %d: 5 single blocks, a 64 KiB request, 4 unaligned buffers; host-check "
		"pattern at sectors %u-%u\n",
		d->slot, HOSTCHECK_START, HOSTCHECK_START + HOSTCHECK_SECTORS - 1);
	return NULL;
}

static const char *rw_body(void)
{
	int n;
	const char *why = for_each(writable, rw_disk, &n);
	return why ? why : n ? NULL : no_disk("is writable");
}

const char *test_blk_rw(void)
{
	return with_disks(rw_body);
}

/* ---- blk_flush ---- */

static bool writable_flush(const struct blk_dev *d)
{
	return blk_writable(d) && d->features & FEATURE(BLK_F_FLUSH);
}

static const char *flush_disk(struct blk_dev *d)
{
	const char *why = need_size(d, MIN_SECTORS);
	if (why)
		return why;
	u64 spb = d->lbs / SECTOR, tag = case_tag(0x46);
	enum { N = 8 };
	struct blk_req *r = blk_reqs_alloc(N, 0);
	u8 *buf = alloc_buf(N * (u64)d->lbs, 4096);
	if (!r || !buf)
		return "out of guest RAM";
	for (u32 i = 0; i < N; i++) {
		u64 s = 768 + i * spb;
		struct blk_seg seg = {buf + i * d->lbs, d->lbs};
		pattern_fill(seg.addr, s, spb, tag);
		if ((why = blk_submit(d, &r[i], BLK_T_OUT, s, &seg, 1, false)))
			return why;
	}
	blk_kick(d);
	if ((why = blk_wait_all(d)))
		return why;
	for (u32 i = 0; i < N; i++)
		if (r[i].status != BLK_S_OK)
			return blk_errf(d, "write %u: status %s", i, blk_status_name(r[i].status));
	/* The flush covers the writes because they completed before it was sent (5.2.6.4). */
	if ((why = one_request(d, r, BLK_T_FLUSH, 0, NULL, 0, false, BLK_S_OK)) ||
	    (why = one_request(d, r, BLK_T_FLUSH, 0, NULL, 0, false, BLK_S_OK)))
		return why;
	kprintf("blk_flush: disk %d: FLUSH after %d completed writes: OK; FLUSH with nothing written: OK\n",
		d->slot, N);
	return NULL;
}

static const char *flush_body(void)
{
	int n;
	const char *why = for_each(writable_flush, flush_disk, &n);
	return why ? why : n ? NULL : no_disk("is writable and offers VIRTIO_BLK_F_FLUSH");
}

const char *test_blk_flush(void)
{
	return with_disks(flush_body);
}

/* ---- blk_id ---- */

static const char *id_disk(struct blk_dev *d)
{
	u8 *id = alloc_buf(BLK_ID_BYTES, 8);
	struct blk_req *r = blk_reqs_alloc(1, 0);
	if (!id || !r)
		return "out of guest RAM";
	memset(id, 0xff, BLK_ID_BYTES); /* what the device does not write shows */
	const char *why = one_request(d, r, BLK_T_GET_ID, 0, id, BLK_ID_BYTES, false, BLK_S_OK);
	if (why)
		return why;
	/* NUL-padded ASCII, not terminated when all 20 bytes are used (5.2.6). */
	char text[BLK_ID_BYTES * 4 + 1];
	u32 n = 0;
	for (u32 i = 0; i < BLK_ID_BYTES && id[i]; i++) {
		if (id[i] >= 0x20 && id[i] < 0x7f && id[i] != '"' && id[i] != '\\') {
			text[n++] = (char)id[i];
		} else {
			n += (u32)format(text + n, sizeof text - n, "\\x%02x", id[i]);
		}
	}
	text[n] = '\0';
	kprintf("blk_id: disk %d at %lx: \"%s\"\n", d->slot, d->m->base, text);
	/* The used len vouched for all 20 bytes, so the padding after the NUL must be NULs too. */
	u32 end = 0;
	while (end < BLK_ID_BYTES && id[end])
		end++;
	for (u32 i = end; i < BLK_ID_BYTES; i++)
		if (id[i]) {
			kprintf("blk_id: disk %d: spec deviation: id byte %u after the terminating NUL is %x, "
				"not NUL padding (5.2.6), though used len %u covers it\n",
				d->slot, i, id[i], r->used_len);
			break;
		}
	return NULL;
}

static const char *id_body(void)
{
	int n;
	const char *why = for_each(any_disk, id_disk, &n);
	return why ? why : n ? NULL : no_disk("can answer GET_ID");
}

const char *test_blk_id(void)
{
	return with_disks(id_body);
}

/* ---- blk_discard and blk_zeroes ---- */

static bool writable_discard(const struct blk_dev *d)
{
	return blk_writable(d) && d->features & FEATURE(BLK_F_DISCARD);
}

static bool writable_zeroes(const struct blk_dev *d)
{
	return blk_writable(d) && d->features & FEATURE(BLK_F_WRITE_ZEROES);
}

static u64 round_up(u64 v, u64 a)
{
	return (v + a - 1) / a * a;
}

/* dwz_request sends a discard or write-zeroes request with nseg ranges from r->dwz. */
static const char *dwz_request(struct blk_dev *d, struct blk_req *r, u32 type, u32 nseg)
{
	struct blk_seg seg = {r->dwz, nseg * (u32)sizeof r->dwz[0]};
	const char *why = blk_do(d, r, type, 0, &seg, 1, false);
	if (why)
		return why;
	if (r->status != BLK_S_OK)
		return blk_errf(d, "%s of %u range(s) from sector %lu (%u sectors%s): status %s",
				type == BLK_T_DISCARD ? "discard" : "write zeroes", nseg, r->dwz[0].sector,
				r->dwz[0].num_sectors, r->dwz[0].flags & BLK_DWZ_F_UNMAP ? ", UNMAP" : "",
				blk_status_name(r->status));
	return NULL;
}

static const char *discard_disk(struct blk_dev *d)
{
	const char *why = need_size(d, MIN_SECTORS);
	if (why)
		return why;
	u64 spb = d->lbs / SECTOR, tag = case_tag(0x44);
	u64 a = round_up(d->discard_align, spb); /* one range unit */
	u64 len = round_up(64, a);
	if (len < 2 * a)
		len = 2 * a; /* so the two-range request leaves a gap to check */
	if (d->max_discard_sectors && len > d->max_discard_sectors)
		len = d->max_discard_sectors / a * a;
	if (len == 0 || len > 1024)
		return blk_errf(d, "cannot form a discard range: alignment %u sectors, at most %u "
				"sectors", d->discard_align, d->max_discard_sectors);
	u64 start = round_up(DISCARD_START + spb, a);
	u64 span = len * 3 + 2 * spb; /* room for the two-range request too */
	u8 *buf = alloc_buf(span * SECTOR, 4096);
	struct blk_req *r = blk_reqs_alloc(1, 0);
	if (!buf || !r)
		return "out of guest RAM";
	u64 lo = start - spb;
	pattern_fill(buf, lo, span, tag);
	if ((why = blk_io(d, BLK_T_OUT, lo, buf, span * SECTOR)))
		return why;
	r->dwz[0] = (struct blk_dwz){start, (u32)len, 0};
	if ((why = dwz_request(d, r, BLK_T_DISCARD, 1)))
		return why;
	bool two = d->max_discard_seg >= 2;
	if (two) {
		r->dwz[0] = (struct blk_dwz){start + len, (u32)a, 0};
		r->dwz[1] = (struct blk_dwz){start + 2 * len, (u32)a, 0};
		if ((why = dwz_request(d, r, BLK_T_DISCARD, 2)))
			return why;
	}
	/* The discarded ranges may read as anything (5.2.6.2); what lies around them may not change. */
	zero_mem(buf, span * SECTOR);
	if ((why = blk_io(d, BLK_T_IN, lo, buf, span * SECTOR)))
		return why;
	if ((why = pattern_check(d, buf, lo, spb, tag, "block before the discarded range")))
		return why;
	if (!two)
		why = pattern_check(d, buf + (start + len - lo) * SECTOR, start + len, lo + span - start - len,
				    tag, "sectors after the discarded range");
	else if (!(why = pattern_check(d, buf + (start + len + a - lo) * SECTOR, start + len + a,
				       len - a, tag, "sectors between the two discarded ranges")))
		why = pattern_check(d, buf + (start + 2 * len + a - lo) * SECTOR, start + 2 * len + a,
				    lo + span - start - 2 * len - a, tag,
				    "sectors after the second discarded range");
	if (why)
		return why;
	kprintf("blk_discard: disk %d: discarded %lu sectors at %lu%s; neighbours intact\n", d->slot,
		len, start, two ? ", then two ranges in one request" : "");
	return NULL;
}

static const char *discard_body(void)
{
	int n;
	const char *why = for_each(writable_discard, discard_disk, &n);
	return why ? why : n ? NULL : no_disk("is writable and offers VIRTIO_BLK_F_DISCARD");
}

const char *test_blk_discard(void)
{
	return with_disks(discard_body);
}

/* zeroes_round writes a pattern over [lo, lo+span), zeroes ranges, and checks the result. */
static const char *zeroes_round(struct blk_dev *d, struct blk_req *r, u8 *buf, u64 lo, u64 span,
				u32 nseg, u32 flags, u64 tag)
{
	pattern_fill(buf, lo, span, tag);
	const char *why = blk_io(d, BLK_T_OUT, lo, buf, span * SECTOR);
	if (why)
		return why;
	for (u32 i = 0; i < nseg; i++)
		r->dwz[i].flags = flags;
	if ((why = dwz_request(d, r, BLK_T_WRITE_ZEROES, nseg)))
		return why;
	fill_mem(buf, 0xa5, span * SECTOR);
	if ((why = blk_io(d, BLK_T_IN, lo, buf, span * SECTOR)))
		return why;
	for (u64 s = lo; s < lo + span; s++) {
		bool zeroed = false;
		for (u32 i = 0; i < nseg; i++)
			if (s >= r->dwz[i].sector && s < r->dwz[i].sector + r->dwz[i].num_sectors)
				zeroed = true;
		const u8 *p = buf + (s - lo) * SECTOR;
		if (zeroed) {
			u64 bad = first_nonzero(p, SECTOR);
			if (bad != SECTOR)
				return blk_errf(d, "write zeroes%s: sector %lu byte %lu reads %lx after the "
						"request completed", flags ? " with UNMAP" : "", s, bad,
						*(const u64u *)(p + bad));
		} else if ((why = pattern_check(d, p, s, 1, tag, "sector next to a zeroed range"))) {
			return why;
		}
	}
	return NULL;
}

static const char *zeroes_disk(struct blk_dev *d)
{
	const char *why = need_size(d, MIN_SECTORS);
	if (why)
		return why;
	u64 spb = d->lbs / SECTOR;
	u64 len = round_up(128, spb);
	if (d->max_wz_sectors && len > d->max_wz_sectors)
		len = d->max_wz_sectors / spb * spb;
	if (len == 0)
		return blk_errf(d, "max_write_zeroes_sectors %u is below one block", d->max_wz_sectors);
	u64 lo = ZEROES_START, start = lo + spb, span = 3 * len + 2 * spb;
	u8 *buf = alloc_buf(span * SECTOR, 4096);
	struct blk_req *r = blk_reqs_alloc(1, 0);
	if (!buf || !r)
		return "out of guest RAM";
	r->dwz[0] = (struct blk_dwz){start, (u32)len, 0};
	if ((why = zeroes_round(d, r, buf, lo, span, 1, 0, case_tag(0x5a))))
		return why;
	bool unmap = d->wz_may_unmap;
	if (unmap && (why = zeroes_round(d, r, buf, lo, span, 1, BLK_DWZ_F_UNMAP, case_tag(0x5b))))
		return why;
	bool two = d->max_wz_seg >= 2;
	if (two) {
		r->dwz[0] = (struct blk_dwz){start, (u32)len, 0};
		r->dwz[1] = (struct blk_dwz){start + 2 * len, (u32)len, 0};
		if ((why = zeroes_round(d, r, buf, lo, span, 2, 0, case_tag(0x5c))))
			return why;
	}
	kprintf("blk_zeroes: disk %d: %lu sectors at %lu read back as zeroes, neighbours intact; "
		"%s; %s\n",
		d->slot, len, start,
		unmap ? "again with UNMAP" : "UNMAP not tried (write_zeroes_may_unmap is 0)",
		two ? "two ranges in one request too" : "one range per request (max_write_zeroes_seg 1)");
	return NULL;
}

static const char *zeroes_body(void)
{
	int n;
	const char *why = for_each(writable_zeroes, zeroes_disk, &n);
	return why ? why : n ? NULL : no_disk("is writable and offers VIRTIO_BLK_F_WRITE_ZEROES");
}

const char *test_blk_zeroes(void)
{
	return with_disks(zeroes_body);
}

/* ---- blk_ro ---- */

static bool read_only(const struct blk_dev *d)
{
	return !blk_writable(d);
}

static const char *ro_disk(struct blk_dev *d)
{
	u64 spb = d->lbs / SECTOR;
	u64 s = d->capacity > 9 * spb ? 8 * spb : 0;
	if (d->capacity < spb)
		return "disk is smaller than one block";
	u8 *orig = alloc_buf(d->lbs, 4096), *buf = alloc_buf(d->lbs, 4096);
	struct blk_req *r = blk_reqs_alloc(1, 0);
	if (!orig || !buf || !r)
		return "out of guest RAM";
	const char *why = one_request(d, r, BLK_T_IN, s, orig, d->lbs, false, BLK_S_OK);
	if (why)
		return why;
	/* The write must fail with IOERR and write nothing (5.2.6.3). */
	for (u32 i = 0; i < d->lbs; i++)
		buf[i] = (u8)~orig[i];
	if ((why = one_request(d, r, BLK_T_OUT, s, buf, d->lbs, false, BLK_S_IOERR)))
		return why;
	zero_mem(buf, d->lbs);
	if ((why = one_request(d, r, BLK_T_IN, s, buf, d->lbs, false, BLK_S_OK)))
		return why;
	if (memcmp(buf, orig, d->lbs) != 0)
		return blk_errf(d, "block at sector %lu changed after a write the device refused", s);
	/*
	 * Write zeroes and discard change data too: on a read-only disk neither
	 * may. Write zeroes cannot end OK (it would promise zeroes on read).
	 */
	u8 wz = BLK_S_NONE, dc = BLK_S_NONE;
	u32 types[2] = {BLK_T_WRITE_ZEROES, BLK_T_DISCARD};
	u64 feats[2] = {FEATURE(BLK_F_WRITE_ZEROES), FEATURE(BLK_F_DISCARD)};
	for (int k = 0; k < 2; k++) {
		if (!(d->features & feats[k]))
			continue;
		r->dwz[0] = (struct blk_dwz){s, (u32)spb, 0};
		struct blk_seg seg = {r->dwz, sizeof r->dwz[0]};
		if ((why = blk_do(d, r, types[k], 0, &seg, 1, false)))
			return why;
		*(k ? &dc : &wz) = r->status;
		zero_mem(buf, d->lbs);
		if ((why = one_request(d, r, BLK_T_IN, s, buf, d->lbs, false, BLK_S_OK)))
			return why;
		if (memcmp(buf, orig, d->lbs) != 0)
			return blk_errf(d, "block at sector %lu changed after a %s on a read-only disk (status %s)",
					s, k ? "discard" : "write zeroes", blk_status_name(k ? dc : wz));
		if (!k && wz == BLK_S_OK)
			return blk_errf(d, "write zeroes on a read-only disk ended OK, yet the block does not "
					"read as zeroes");
	}
	kprintf("blk_ro: disk %d: write to sector %lu refused with IOERR, block unchanged; reads OK; "
		"write zeroes %s, discard %s\n",
		d->slot, s, d->features & feats[0] ? blk_status_name(wz) : "not offered",
		d->features & feats[1] ? blk_status_name(dc) : "not offered");
	return NULL;
}

static const char *ro_body(void)
{
	int n;
	const char *why = for_each(read_only, ro_disk, &n);
	return why ? why : n ? NULL : no_disk("offers VIRTIO_BLK_F_RO");
}

const char *test_blk_ro(void)
{
	return with_disks(ro_body);
}

/* ---- blk_multiseg and blk_indirect ---- */

/*
 * seg_layout lays out k segments for one request: either sector-sized
 * pieces (512..1536 bytes) or odd lengths whose pairs sum to 512, each
 * placed apart from its neighbours at a different misalignment. The total
 * is a multiple of the block size. Returns the total, 0 if it will not fit.
 */
static u32 seg_layout(const struct blk_dev *d, u8 *arena, u64 arena_len, u32 k, bool odd,
		      struct blk_seg *seg)
{
	u32 total = 0, sb = blk_max_seg_bytes(d);
	u64 at = 0;
	for (u32 i = 0; i < k; i++) {
		u32 len;
		if (odd)
			len = i % 2 == 0 ? (i + 1 == k ? 512 : 24 + 8 * (i % 40)) : 512 - seg[i - 1].len;
		else
			len = SECTOR * (i % 8 == 7 ? 3 : 1); /* mostly one sector: guest CPU is dear */
		if (len > sb)
			len = sb / SECTOR * SECTOR;
		at += (i % 7) * 8 + 64; /* a gap, and a different misalignment */
		seg[i].addr = arena + at;
		seg[i].len = len;
		at += len;
		total += len;
	}
	u32 pad = (d->lbs - total % d->lbs) % d->lbs; /* whole blocks: grow the last segment */
	if (pad) {
		if (seg[k - 1].len + pad > sb)
			return 0;
		seg[k - 1].len += pad;
		at += pad;
		total += pad;
	}
	return at <= arena_len ? total : 0;
}

static void gather(u8 *dst, const struct blk_seg *seg, u32 k)
{
	for (u32 i = 0; i < k; i++) {
		copy_bytes(dst, seg[i].addr, seg[i].len);
		dst += seg[i].len;
	}
}

static void scatter(const u8 *src, struct blk_seg *seg, u32 k)
{
	for (u32 i = 0; i < k; i++) {
		copy_bytes(seg[i].addr, src, seg[i].len);
		src += seg[i].len;
	}
}

/*
 * segs_round writes a pattern through k scattered segments, reads it back
 * as one contiguous buffer and again through the same segments.
 */
static const char *segs_round(struct blk_dev *d, struct blk_req *r, u64 sector, u32 k, bool odd,
			      bool indirect, u8 *arena, u64 arena_len, u8 *flat, u64 tag)
{
	struct blk_seg seg[VQ_MAX_SIZE];
	u32 total = seg_layout(d, arena, arena_len, k, odd, seg);
	if (!total)
		return blk_errf(d, "%u segments do not fit the test's buffers", k);
	u64 nsect = total / SECTOR;
	pattern_fill(flat, sector, nsect, tag);
	scatter(flat, seg, k);
	const char *why = blk_do(d, r, BLK_T_OUT, sector, seg, k, indirect);
	if (!why && r->status != BLK_S_OK)
		why = blk_errf(d, "write of %u %s segments (%u bytes): status %s", k,
			       odd ? "odd-sized" : "sector-sized", total, blk_status_name(r->status));
	if (why)
		return why;
	zero_mem(flat, total);
	if ((why = blk_io(d, BLK_T_IN, sector, flat, total)) ||
	    (why = pattern_check(d, flat, sector, nsect, tag, "written through segments, read flat")))
		return why;
	for (u32 i = 0; i < k; i++)
		memset(seg[i].addr, 0, seg[i].len);
	why = blk_do(d, r, BLK_T_IN, sector, seg, k, indirect);
	if (!why && r->status != BLK_S_OK)
		why = blk_errf(d, "read into %u segments: status %s", k, blk_status_name(r->status));
	if (why)
		return why;
	gather(flat, seg, k);
	return pattern_check(d, flat, sector, nsect, tag, "read back through segments");
}

static const char *segs_disk(struct blk_dev *d, bool indirect, u64 sector)
{
	const char *why = need_size(d, MIN_SECTORS);
	if (why)
		return why;
	u32 maxs = blk_max_segs(d);
	u32 counts[] = {2, 3, 8, 17, maxs};
	const u64 arena_len = 512 * KiB;
	u8 *arena = alloc_buf(arena_len, 4096), *flat = alloc_buf(320 * KiB, 4096);
	struct blk_req *r = blk_reqs_alloc(1, (u16)(maxs + 2));
	if (!arena || !flat || !r)
		return "out of guest RAM";
	u32 rounds = 0;
	for (u32 c = 0; c < sizeof counts / sizeof counts[0]; c++) {
		u32 k = counts[c];
		if (k > maxs || (c > 0 && k <= counts[c - 1]))
			continue;
		for (int odd = 0; odd < 2; odd++) {
			if ((why = segs_round(d, r, sector, k, odd, indirect, arena, arena_len, flat,
					      case_tag(0x53) ^ k << 8 ^ (u64)odd)))
				return why;
			rounds++;
		}
	}
	kprintf("blk_%s: disk %d: %u requests of 2 to %u data segments (seg_max %u), sector-sized "
		"and odd-sized, written and read back\n",
		indirect ? "indirect" : "multiseg", d->slot, rounds, maxs, d->seg_max);
	return NULL;
}

static bool writable_segmax(const struct blk_dev *d)
{
	return blk_writable(d) && d->features & FEATURE(BLK_F_SEG_MAX) && blk_max_segs(d) >= 2;
}

static const char *multiseg_disk(struct blk_dev *d)
{
	return segs_disk(d, false, MULTISEG_START);
}

static const char *multiseg_body(void)
{
	int n;
	const char *why = for_each(writable_segmax, multiseg_disk, &n);
	return why ? why : n ? NULL : no_disk("is writable and offers VIRTIO_BLK_F_SEG_MAX >= 2");
}

const char *test_blk_multiseg(void)
{
	return with_disks(multiseg_body);
}

static bool writable_indirect(const struct blk_dev *d)
{
	return writable_segmax(d) && d->features & FEATURE(VIRTIO_F_INDIRECT_DESC);
}

/* fill_ring puts one indirect request per ring slot in flight at once, writes then reads. */
static const char *fill_ring(struct blk_dev *d)
{
	u32 n = d->vq.size, bs = d->lbs;
	u64 spb = bs / SECTOR, tag = case_tag(0x49);
	if (n * spb > RINGFILL_SECTORS)
		n = (u32)(RINGFILL_SECTORS / spb);
	struct blk_req *r = blk_reqs_alloc(n, 3);
	u8 *buf = alloc_buf((u64)n * bs, 4096);
	if (!r || !buf)
		return "out of guest RAM";
	for (int pass = 0; pass < 2; pass++) {
		u32 type = pass ? BLK_T_IN : BLK_T_OUT;
		if (pass)
			zero_mem(buf, (u64)n * bs);
		else
			pattern_fill(buf, RINGFILL_START, n * spb, tag);
		for (u32 i = 0; i < n; i++) {
			struct blk_seg seg = {buf + (u64)i * bs, bs};
			const char *why = blk_submit(d, &r[i], type, RINGFILL_START + i * spb, &seg, 1, true);
			if (why)
				return why;
		}
		if (d->vq.in_flight != n)
			return blk_errf(d, "%u in flight, want %u", d->vq.in_flight, n);
		blk_kick(d);
		const char *why = blk_wait_all(d);
		if (why)
			return why;
		for (u32 i = 0; i < n; i++)
			if (r[i].status != BLK_S_OK)
				return blk_errf(d, "ring-filling request %u: status %s", i,
						blk_status_name(r[i].status));
	}
	const char *why = pattern_check(d, buf, RINGFILL_START, n * spb, tag, "ring filled with indirect requests");
	if (!why)
		kprintf("blk_indirect: disk %d: %u indirect requests in flight at once (queue size %u)\n",
			d->slot, n, d->vq.size);
	return why;
}

static const char *indirect_disk(struct blk_dev *d)
{
	const char *why = segs_disk(d, true, INDIRECT_START);
	return why ? why : fill_ring(d);
}

static const char *indirect_body(void)
{
	int n;
	const char *why = for_each(writable_indirect, indirect_disk, &n);
	return why ? why : n ? NULL : no_disk("is writable and offers VIRTIO_F_INDIRECT_DESC and SEG_MAX");
}

const char *test_blk_indirect(void)
{
	return with_disks(indirect_body);
}

/* ---- blk_qd64 ---- */

#define QD 64

static const char *qd_batch(struct blk_dev *d, struct blk_req *r, u8 *buf, u32 type, bool indirect,
			    u64 *notifies)
{
	u64 bs = 4096 > d->lbs ? 4096 : d->lbs, nsect = bs / SECTOR;
	for (u32 i = 0; i < QD; i++) {
		struct blk_seg seg = {buf + i * bs, (u32)bs};
		const char *why = blk_submit(d, &r[i], type, QD_START + i * nsect, &seg, 1, indirect);
		if (why)
			return why;
	}
	if (d->vq.in_flight != QD)
		return blk_errf(d, "%u requests in flight, want %u", d->vq.in_flight, QD);
	u64 n0 = d->vq.notifies;
	blk_kick(d);
	const char *why = blk_wait_all(d);
	*notifies = d->vq.notifies - n0;
	if (why)
		return why;
	for (u32 i = 0; i < QD; i++)
		if (r[i].status != BLK_S_OK)
			return blk_errf(d, "request %u of %u in flight: status %s", i, QD,
					blk_status_name(r[i].status));
	return NULL;
}

static const char *qd_disk(struct blk_dev *d)
{
	const char *why = need_size(d, MIN_SECTORS);
	if (why)
		return why;
	bool indirect = (u32)QD * 3 > d->vq.size;
	if (indirect && !(d->features & FEATURE(VIRTIO_F_INDIRECT_DESC)))
		return blk_errf(d, "queue size %u holds fewer than %u three-descriptor requests and "
				"INDIRECT_DESC is not offered", d->vq.size, QD);
	u64 bs = 4096 > d->lbs ? 4096 : d->lbs, nsect = bs / SECTOR, tag = case_tag(0x51);
	struct blk_req *r = blk_reqs_alloc(QD, indirect ? 3 : 0);
	u8 *buf = alloc_buf(QD * bs, 4096);
	if (!r || !buf)
		return "out of guest RAM";
	u64 irq0 = d->irqs, ooo0 = d->out_of_order, wn, rn;
	pattern_fill(buf, QD_START, QD * nsect, tag);
	if ((why = qd_batch(d, r, buf, BLK_T_OUT, indirect, &wn)))
		return why;
	zero_mem(buf, QD * bs);
	if ((why = qd_batch(d, r, buf, BLK_T_IN, indirect, &rn)) ||
	    (why = pattern_check(d, buf, QD_START, QD * nsect, tag, "64 requests in flight")))
		return why;

	/* Keep 64 in flight for 1024 reads, refilling as they finish: the rings wrap several times. */
	enum { TOTAL = 1024 };
	u32 issued = 0, finished = 0;
	bool busy[QD] = {0};
	zero_mem(buf, QD * bs);
	while (finished < TOTAL) {
		for (u32 i = 0; i < QD && issued < TOTAL; i++) {
			if (busy[i])
				continue;
			u32 blk = (issued * 37) % QD;
			struct blk_seg seg = {buf + i * bs, (u32)bs};
			r[i].tag = blk;
			if ((why = blk_submit(d, &r[i], BLK_T_IN, QD_START + blk * nsect, &seg, 1, indirect)))
				return why;
			busy[i] = true;
			issued++;
		}
		blk_kick(d);
		if ((why = blk_wait_any(d)))
			return why;
		for (u32 i = 0; i < QD; i++) {
			if (!busy[i] || !r[i].done)
				continue;
			busy[i] = false;
			finished++;
			if (r[i].status != BLK_S_OK)
				return blk_errf(d, "sustained read: status %s", blk_status_name(r[i].status));
			/* The first word of each sector names it: enough to catch a misplaced read. */
			u64 s = QD_START + r[i].tag * nsect;
			for (u64 k = 0; k < nsect; k++) {
				u64u *w = (u64u *)(buf + i * bs + k * SECTOR);
				if (*w != pattern_word(tag, s + k, 0))
					return blk_errf(d, "sustained read of sector %lu: first word %lx, want %lx",
							s + k, *w, pattern_word(tag, s + k, 0));
				*w = 0;
			}
		}
	}
	kprintf("blk_qd64: disk %d: %u writes then %u reads in flight at once (%lu and %lu QueueNotify "
		"writes%s), then %u reads at depth %u; %lu of %lu completions out of submission order, "
		"%lu interrupts\n",
		d->slot, QD, QD, wn, rn, indirect ? ", indirect" : "", TOTAL, QD,
		d->out_of_order - ooo0, 2 * QD + (u64)TOTAL, d->irqs - irq0);
	return NULL;
}

static bool writable_any(const struct blk_dev *d)
{
	return blk_writable(d);
}

static const char *qd_body(void)
{
	int n;
	const char *why = for_each(writable_any, qd_disk, &n);
	return why ? why : n ? NULL : no_disk("is writable");
}

const char *test_blk_qd64(void)
{
	return with_disks(qd_body);
}

/* ---- blk_reset ---- */

static const char *reset_disk(struct blk_dev *d)
{
	const char *why = need_size(d, MIN_SECTORS);
	if (why)
		return why;
	enum { N = 32 };
	u64 bs = 4096 > d->lbs ? 4096 : d->lbs, nsect = bs / SECTOR;
	u64 t0 = case_tag(0x30), t1 = case_tag(0x31), t2 = case_tag(0x32);
	u8 *buf = alloc_buf(N * bs, 4096), *rbuf = alloc_buf(N * bs, 4096);
	struct blk_req *r = blk_reqs_alloc(N, 0);
	if (!buf || !rbuf || !r)
		return "out of guest RAM";
	if ((u32)N * 3 > d->vq.size)
		return blk_errf(d, "queue size %u is too small for %u requests", d->vq.size, N);
	/* Known old contents, then new contents in flight when the reset comes. */
	pattern_fill(buf, RESET_START, N * nsect, t0);
	if ((why = blk_io(d, BLK_T_OUT, RESET_START, buf, N * bs)))
		return why;
	pattern_fill(buf, RESET_START, N * nsect, t1);
	for (u32 i = 0; i < N; i++) {
		struct blk_seg seg = {buf + i * bs, (u32)bs};
		if ((why = blk_submit(d, &r[i], BLK_T_OUT, RESET_START + i * nsect, &seg, 1, false)))
			return why;
	}
	blk_kick(d);
	struct vq_used *old_used = d->vq.used;
	u64 timeout = blk_timeout_us();
	if (!vmmio_reset(d->m, timeout))
		return blk_errf(d, "Status still reads %x %lu ms after writing 0 with %u writes in flight",
				vmmio_status(d->m), timeout / 1000, N);
	d->live = false;
	/* 4.2.2.1: a reset clears InterruptStatus and every queue's QueueReady. */
	vmmio_wr(d->m, VMMIO_QUEUE_SEL, 0);
	u32 ready = vmmio_rd(d->m, VMMIO_QUEUE_READY), isr = vmmio_rd(d->m, VMMIO_INTERRUPT_STATUS);
	if (ready || isr)
		return blk_errf(d, "after reset QueueReady reads %u and InterruptStatus %x, want 0 and 0",
				ready, isr);
	u16 old_idx = ld16(&old_used->idx);
	if ((why = blk_reinit(d)))
		return blk_errf(d, "re-initialising after reset: %s", why);
	/* It must serve again: a write and a read on the new rings. */
	pattern_fill(buf, RESET_START + N * nsect, nsect, t2);
	if ((why = blk_io(d, BLK_T_OUT, RESET_START + N * nsect, buf, bs)))
		return why;
	zero_mem(rbuf, bs);
	if ((why = blk_io(d, BLK_T_IN, RESET_START + N * nsect, rbuf, bs)) ||
	    (why = pattern_check(d, rbuf, RESET_START + N * nsect, nsect, t2, "write after reset")))
		return why;
	/* Writes cut off by the reset left each sector old or new, nothing else. */
	zero_mem(rbuf, N * bs);
	if ((why = blk_io(d, BLK_T_IN, RESET_START, rbuf, N * bs)))
		return why;
	u32 landed = 0;
	for (u64 s = 0; s < N * nsect; s++) {
		const u8 *p = rbuf + s * SECTOR;
		if (pattern_find_bad(p, RESET_START + s, 1, t1) == SECTOR)
			landed++;
		else if ((why = pattern_check(d, p, RESET_START + s, 1, t0,
					      "sector written while the device was reset (neither old nor new)")))
			return why;
	}
	if (ld16(&old_used->idx) != old_idx)
		return blk_errf(d, "the device wrote the old used ring after its reset completed "
				"(idx %u, then %u)", old_idx, ld16(&old_used->idx));
	kprintf("blk_reset: disk %d: reset with %u writes in flight completed; %u of %lu sectors had "
		"landed; re-initialised and served I/O (%lu interrupts since)\n",
		d->slot, N, landed, N * nsect, d->irqs);
	return NULL;
}

static const char *reset_body(void)
{
	int n;
	const char *why = for_each(writable_any, reset_disk, &n);
	return why ? why : n ? NULL : no_disk("is writable");
}

const char *test_blk_reset(void)
{
	return with_disks(reset_body);
}

/* ---- blk_perf ---- */

struct perf_job {
	const char *name;
	u32 type;
	u32 bytes;
	u32 qd;
	u32 count;
	bool random;
};

static const struct perf_job perf_jobs[] = {
	{"randread 4k qd1", BLK_T_IN, 4096, 1, 2000, true},
	{"randread 4k qd32", BLK_T_IN, 4096, 32, 4000, true},
	{"randwrite 4k qd1", BLK_T_OUT, 4096, 1, 2000, true},
	{"randwrite 4k qd32", BLK_T_OUT, 4096, 32, 4000, true},
	{"seqread 1m qd8", BLK_T_IN, 1 << 20, 8, 256, false},
	{"seqwrite 1m qd8", BLK_T_OUT, 1 << 20, 8, 256, false},
};
#define PERF_QD_MAX 32

/*
 * PERF_MARK_PORT brackets each job with a byte written to an unclaimed
 * port (2k before job k, 2k+1 after it): one exit each, which a host
 * tracing KVM's kvm_pio events (scripts/bench) uses to count the exits
 * each job caused, under any VMM.
 */
#define PERF_MARK_PORT 0x80

static u64 xorshift(u64 *s)
{
	u64 x = *s;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

/* perf_khz is the TSC rate: from CPUID when the hypervisor tells, else measured against the LAPIC timer (1 ns ticks). */
static u64 perf_khz(const char **how)
{
	if (tsc_khz()) {
		*how = "from CPUID 0x40000010";
		return tsc_khz();
	}
	lapic_enable();
	lapic_timer_periodic(VECTOR_APIC_TIMER, 0xffffffffU);
	u32 c0 = lapic_timer_current();
	u64 t0 = rdtsc(), bound = t0 + cycles_from_us(2000000);
	while (c0 - lapic_timer_current() < 50000000U && rdtsc() < bound) /* 50 ms */
		cpu_relax();
	u32 c1 = lapic_timer_current();
	u64 t1 = rdtsc();
	lapic_timer_stop();
	if (c0 - c1 < 1000000U) {
		*how = "guessed: the LAPIC timer did not count";
		return tsc_khz_or_guess();
	}
	*how = "measured against the LAPIC timer";
	return (t1 - t0) * 1000000 / (c0 - c1);
}

static void fixed2(char *out, size_t n, u64 num, u64 den)
{
	u64 v = den ? num * 100 / den : 0;
	format(out, n, "%lu.%02lu", v / 100, v % 100);
}

static const char *perf_job_run(struct blk_dev *d, const struct perf_job *j, u32 mark,
				struct blk_req *r, u8 *bufs, u64 khz, u64 *rng)
{
	u64 region = (d->capacity < PERF_END ? d->capacity : PERF_END) - PERF_START;
	u64 nsect = j->bytes / SECTOR, slots = region / nsect;
	struct blk_seg seg[64];
	u32 maxs = blk_max_segs(d) < 64 ? blk_max_segs(d) : 64;
	u32 free_stack[PERF_QD_MAX], nfree = 0;
	for (u32 i = 0; i < j->qd; i++)
		free_stack[nfree++] = j->qd - 1 - i;
	u64 n0 = d->vq.notifies, i0 = d->irqs, seqpos = 0;
	u32 issued = 0, done = 0;
	const char *why;
	outb(PERF_MARK_PORT, (u8)(2 * mark));
	u64 t0 = rdtsc();
	while (done < j->count) {
		while (nfree && issued < j->count) {
			u32 i = free_stack[--nfree];
			u64 slot = j->random ? xorshift(rng) % slots : seqpos++ % slots;
			u32 n = build_segs(d, bufs + (u64)i * j->bytes, j->bytes, seg, maxs);
			if (!n)
				return blk_errf(d, "%s: a %u-byte request needs more than %u segments",
						j->name, j->bytes, maxs);
			if ((why = blk_submit(d, &r[i], j->type, PERF_START + slot * nsect, seg, n, false)))
				return why;
			r[i].tag = 1;
			issued++;
		}
		blk_kick(d);
		if ((why = blk_wait_any(d)))
			return why;
		for (u32 i = 0; i < j->qd; i++) {
			if (!r[i].tag || !r[i].done)
				continue;
			if (r[i].status != BLK_S_OK)
				return blk_errf(d, "%s: status %s", j->name, blk_status_name(r[i].status));
			r[i].tag = 0;
			free_stack[nfree++] = i;
			done++;
		}
	}
	u64 dt = rdtsc() - t0;
	outb(PERF_MARK_PORT, (u8)(2 * mark + 1));
	if (dt == 0)
		dt = 1;
	u64 us = dt * 1000 / khz, iops = (u64)j->count * khz * 1000 / dt;
	u64 bytes_per_s = (u64)j->count * j->bytes * khz / dt * 1000;
	char mbs[24], npr[24], ipr[24];
	fixed2(mbs, sizeof mbs, bytes_per_s / 10000, 100); /* MB/s: 10^6 bytes per second */
	fixed2(npr, sizeof npr, d->vq.notifies - n0, j->count);
	fixed2(ipr, sizeof ipr, d->irqs - i0, j->count);
	kprintf("blk_perf: %s: %u requests in %lu us: %lu IOPS, %s MB/s, %s notifies/req, %s "
		"interrupts/req\n",
		j->name, j->count, us, iops, mbs, npr, ipr);
	return NULL;
}

static const char *perf_body(void)
{
	struct blk_dev *d = NULL;
	for (int i = 0; i < blk_ndisks && !d; i++)
		if (blk_writable(&blk_disks[i]))
			d = &blk_disks[i];
	if (!d)
		return no_disk("is writable");
	const char *why = need_size(d, PERF_END);
	if (why)
		return fail_reason("disk %d: %s", d->slot, why);
	const char *how;
	u64 khz = perf_khz(&how);
	/* perf_khz borrowed the LAPIC timer: give the interrupt-mode tick back. */
	if (!d->polling)
		lapic_timer_periodic(VECTOR_APIC_TIMER, 10000000);
	u64 maxbytes = 0;
	for (u32 k = 0; k < sizeof perf_jobs / sizeof perf_jobs[0]; k++)
		if ((u64)perf_jobs[k].bytes * perf_jobs[k].qd > maxbytes)
			maxbytes = (u64)perf_jobs[k].bytes * perf_jobs[k].qd;
	u8 *bufs = alloc_buf(maxbytes, 4096);
	struct blk_req *r = blk_reqs_alloc(PERF_QD_MAX, 0);
	if (!bufs || !r)
		return "out of guest RAM";
	kprintf("blk_perf: disk %d, %s, EVENT_IDX %s, TSC %lu kHz %s\n", d->slot,
		d->polling ? "polling" : "interrupts",
		d->features & FEATURE(VIRTIO_F_EVENT_IDX) ? "on" : "off", khz, how);
	u64 rng = 0x9E3779B97F4A7C15ULL;
	for (u32 k = 0; k < sizeof perf_jobs / sizeof perf_jobs[0]; k++)
		if ((why = perf_job_run(d, &perf_jobs[k], k, r, bufs, khz, &rng)))
			return fail_reason("disk %d: %s", d->slot, why);
	return NULL;
}

const char *test_blk_perf(void)
{
	return with_disks(perf_body);
}

/* ---- blk_crash ---- */

/* crash_block builds block k (docs/guest.md, "blk_crash"): header, filler, FNV-1a checksum. */
static void crash_block(u64 *w, u64 k, u64 slots, u64 run)
{
	w[0] = CRASH_MAGIC;
	w[1] = k;
	w[2] = slots;
	w[3] = run;
	for (u64 i = 4; i < CRASH_BLOCK / 8 - 1; i++)
		w[i] = run ^ k << 16 ^ i;
	u64 h = FNV_OFFSET;
	for (u64 i = 0; i < CRASH_BLOCK / 8 - 1; i++)
		h = (h ^ w[i]) * FNV_PRIME;
	w[CRASH_BLOCK / 8 - 1] = h;
}

static const char *crash_body(void)
{
	struct blk_dev *d = NULL;
	for (int i = 0; i < blk_ndisks && !d; i++)
		if (blk_writable(&blk_disks[i]))
			d = &blk_disks[i];
	if (!d)
		return no_disk("is writable");
	if (!(d->features & FEATURE(BLK_F_FLUSH)))
		return fail_reason("disk %d offers no VIRTIO_BLK_F_FLUSH: nothing makes its writes durable",
				   d->slot);
	const char *why = need_size(d, CRASH_START + 64 * (CRASH_BLOCK / SECTOR));
	if (why)
		return fail_reason("disk %d: %s", d->slot, why);
	if (d->lbs > CRASH_BLOCK)
		return fail_reason("disk %d: block size %u is above the %u-byte crash block", d->slot,
				   d->lbs, CRASH_BLOCK);
	u64 batch = 8;
	cmdline_u64("blk_crash_batch", &batch);
	if (batch == 0 || batch > 32)
		batch = 8;
	u64 spb = CRASH_BLOCK / SECTOR, slots = (d->capacity - CRASH_START) / spb;
	if (slots > 1ULL << 24)
		slots = 1ULL << 24;
	struct blk_req *r = blk_reqs_alloc((u32)batch, 0);
	u8 *bufs = alloc_buf(batch * CRASH_BLOCK, 4096);
	if (!r || !bufs)
		return "out of guest RAM";
	u64 run = rdtsc() * 0x9E3779B97F4A7C15ULL;
	kprintf("blk_crash: disk %d, %u-byte blocks from sector %u, %lu slots, FLUSH every %lu blocks, "
		"run %lx\n",
		d->slot, CRASH_BLOCK, CRASH_START, slots, batch, run);
	struct blk_seg seg[8];
	u32 maxs = blk_max_segs(d) < 8 ? blk_max_segs(d) : 8;
	for (u64 k = 0;; k += batch) {
		if (k + batch > slots) {
			kprintf("blk_crash: region full after %lu blocks\n", k);
			for (;;)
				__asm__ volatile("sti; hlt; cli" ::: "memory");
		}
		for (u64 i = 0; i < batch; i++) {
			u8 *b = bufs + i * CRASH_BLOCK;
			crash_block((u64 *)b, k + i, slots, run);
			u32 n = build_segs(d, b, CRASH_BLOCK, seg, maxs);
			if (!n)
				return fail_reason("disk %d: a 4 KiB block needs more segments than allowed", d->slot);
			if ((why = blk_submit(d, &r[i], BLK_T_OUT, CRASH_START + (k + i) * spb, seg, n, false)))
				return fail_reason("disk %d: %s", d->slot, why);
		}
		blk_kick(d);
		if ((why = blk_wait_all(d)))
			return fail_reason("disk %d: %s", d->slot, why);
		for (u64 i = 0; i < batch; i++)
			if (r[i].status != BLK_S_OK)
				return fail_reason("disk %d: write of block %lu: status %s", d->slot, k + i,
						   blk_status_name(r[i].status));
		/* Only now: a flush covers the writes that completed before it was sent. */
		if ((why = one_request(d, r, BLK_T_FLUSH, 0, NULL, 0, false, BLK_S_OK)))
			return fail_reason("disk %d: %s", d->slot, why);
		kprintf("blk_crash: flushed %lu\n", k + batch);
	}
}

const char *test_blk_crash(void)
{
	return with_disks(crash_body);
}
