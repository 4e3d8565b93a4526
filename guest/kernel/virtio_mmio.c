/*
 * virtio_mmio.c: the virtio-mmio transport (virtio 1.x, 4.2, register layout
 * version 2). Devices are found the way Linux finds them without a device
 * tree: one `virtio_mmio.device=<size>@<base>:<irq>[:<id>]` token per
 * device on the kernel command line.
 */
#include "virtio.h"

/* The window boot.S maps uncached: device registers must lie inside it. */
#define MMIO_WINDOW_START 0xC0000000UL
#define MMIO_WINDOW_END 0x100000000UL
#define MAX_IRQ 255

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * parse_num parses all n bytes as a decimal or 0x-hex number. A decimal
 * number with a leading zero ("010") is refused: Linux reads it as octal,
 * and silently reading it another way would put the device elsewhere.
 */
bool parse_num(const char *s, size_t n, u64 *out)
{
	if (n > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		if (n - 2 > 16)
			return false;
		u64 v = 0;
		for (size_t i = 2; i < n; i++) {
			int d = hex_digit(s[i]);
			if (d < 0)
				return false;
			v = v << 4 | (u64)d;
		}
		*out = v;
		return true;
	}
	if (n > 1 && s[0] == '0')
		return false;
	return parse_u64(s, n, out);
}

/* cmdline_u64 reads key=<number> from the command line (the last one wins). */
bool cmdline_u64(const char *key, u64 *out)
{
	const char *v;
	size_t n;
	return cmdline_value(key, &v, &n) && parse_num(v, n, out);
}

/* parse_size is parse_num with an optional K/M/G suffix (powers of 1024), as Linux's memparse. */
static bool parse_size(const char *s, size_t n, u64 *out)
{
	unsigned shift = 0;
	if (n > 1) {
		switch (s[n - 1]) {
		case 'k': case 'K': shift = 10; break;
		case 'm': case 'M': shift = 20; break;
		case 'g': case 'G': shift = 30; break;
		}
	}
	if (shift)
		n--;
	u64 v;
	if (!parse_num(s, n, &v) || (shift && v >> (64 - shift)))
		return false;
	*out = v << shift;
	return true;
}

/* find returns the index of c in s[from:n], or n. */
static size_t find(const char *s, size_t n, size_t from, char c)
{
	while (from < n && s[from] != c)
		from++;
	return from;
}

/* parse_spec parses "<size>@<base>:<irq>[:<id>]" into m, or says what is wrong in msg. */
static bool parse_spec(const char *v, size_t n, struct vmmio *m, char *msg, size_t msglen)
{
	char tok[64];
	size_t tn = n < sizeof tok - 1 ? n : sizeof tok - 1;
	memcpy(tok, v, tn);
	tok[tn] = '\0';
	size_t at = find(v, n, 0, '@');
	size_t c1 = find(v, n, at, ':');
	size_t c2 = c1 < n ? find(v, n, c1 + 1, ':') : n;
	u64 size, base, irq, id = 0;
	if (at == n || c1 == n) {
		format(msg, msglen, "virtio_mmio.device=%s: want <size>@<base>:<irq>[:<id>]", tok);
		return false;
	}
	if (!parse_size(v, at, &size)) {
		format(msg, msglen, "virtio_mmio.device=%s: bad size (decimal or 0x-hex, optional K/M/G)", tok);
		return false;
	}
	if (!parse_num(v + at + 1, c1 - at - 1, &base)) {
		format(msg, msglen, "virtio_mmio.device=%s: bad base (decimal or 0x-hex)", tok);
		return false;
	}
	if (!parse_num(v + c1 + 1, c2 - c1 - 1, &irq) || irq > MAX_IRQ) {
		format(msg, msglen, "virtio_mmio.device=%s: bad irq (decimal or 0x-hex, at most %d)", tok,
		       MAX_IRQ);
		return false;
	}
	if (c2 < n && !parse_num(v + c2 + 1, n - c2 - 1, &id)) {
		format(msg, msglen, "virtio_mmio.device=%s: bad id (decimal or 0x-hex)", tok);
		return false;
	}
	if (size < VIRTIO_MMIO_MIN_SIZE || size > MMIO_WINDOW_END - MMIO_WINDOW_START) {
		format(msg, msglen, "virtio_mmio.device=%s: size %lx, want at least %x", tok, size,
		       VIRTIO_MMIO_MIN_SIZE);
		return false;
	}
	if (base & 3 || base < MMIO_WINDOW_START || base > MMIO_WINDOW_END - size) {
		format(msg, msglen,
		       "virtio_mmio.device=%s: registers %lx+%lx are not 4-byte aligned inside 0xc0000000-0xffffffff, the window this kernel maps uncached",
		       tok, base, size);
		return false;
	}
	m->size = size;
	m->base = base;
	m->irq = (u32)irq;
	m->id = c2 < n ? (i64)id : -1;
	return true;
}

/*
 * vmmio_discover fills out[] with every virtio_mmio.device= on the command
 * line whose registers answer as a modern (version 2) virtio-mmio device, in
 * command-line order. It refuses the whole list (returns -1 and *why) on a
 * malformed entry, a duplicate base, a bad magic value or a legacy device:
 * a disk the cases cannot drive must fail them, not vanish.
 */
int vmmio_discover(struct vmmio *out, int max, const char **why)
{
	static char msg[240];
	static const char key[] = "virtio_mmio.device=";
	const size_t klen = sizeof key - 1;
	int n = 0;
	const char *p = cmdline();
	while (*p) {
		while (*p && is_space(*p))
			p++;
		const char *tok = p;
		while (*p && !is_space(*p))
			p++;
		size_t tlen = (size_t)(p - tok);
		if (tlen < klen || memcmp(tok, key, klen) != 0)
			continue;
		if (n == max) {
			format(msg, sizeof msg, "more than %d virtio_mmio.device= entries on the command line",
			       max);
			*why = msg;
			return -1;
		}
		struct vmmio m = {0};
		if (!parse_spec(tok + klen, tlen - klen, &m, msg, sizeof msg)) {
			*why = msg;
			return -1;
		}
		for (int i = 0; i < n; i++)
			if (out[i].base < m.base + m.size && m.base < out[i].base + out[i].size) {
				format(msg, sizeof msg, "virtio_mmio.device= entries at %lx and %lx overlap",
				       out[i].base, m.base);
				*why = msg;
				return -1;
			}
		u32 magic = vmmio_rd(&m, VMMIO_MAGIC);
		if (magic != VIRTIO_MMIO_MAGIC) {
			format(msg, sizeof msg,
			       "no virtio-mmio device at %lx: MagicValue reads %x, want 0x74726976", m.base,
			       magic);
			*why = msg;
			return -1;
		}
		m.version = vmmio_rd(&m, VMMIO_VERSION);
		if (m.version == 1) {
			format(msg, sizeof msg,
			       "virtio-mmio device at %lx is legacy (Version 1); this driver needs a modern Version 2 transport (QEMU: -global virtio-mmio.force-legacy=false)",
			       m.base);
			*why = msg;
			return -1;
		}
		if (m.version != 2) {
			format(msg, sizeof msg, "virtio-mmio device at %lx has Version %u, want 2", m.base,
			       m.version);
			*why = msg;
			return -1;
		}
		m.device_id = vmmio_rd(&m, VMMIO_DEVICE_ID);
		m.vendor_id = vmmio_rd(&m, VMMIO_VENDOR_ID);
		out[n++] = m;
	}
	return n;
}

/* vmmio_reset writes 0 to Status and waits, bounded, for it to read back 0 (reset complete). */
bool vmmio_reset(const struct vmmio *m, u64 timeout_us)
{
	vmmio_wr(m, VMMIO_STATUS, 0);
	u64 deadline = rdtsc() + cycles_from_us(timeout_us);
	while (vmmio_rd(m, VMMIO_STATUS) != 0) {
		if (rdtsc() > deadline)
			return false;
		cpu_relax();
	}
	return true;
}

u32 vmmio_status(const struct vmmio *m)
{
	return vmmio_rd(m, VMMIO_STATUS);
}

void vmmio_set_status(const struct vmmio *m, u32 status)
{
	vmmio_wr(m, VMMIO_STATUS, status);
}

u64 vmmio_device_features(const struct vmmio *m)
{
	vmmio_wr(m, VMMIO_DEVICE_FEATURES_SEL, 0);
	u64 lo = vmmio_rd(m, VMMIO_DEVICE_FEATURES);
	vmmio_wr(m, VMMIO_DEVICE_FEATURES_SEL, 1);
	u64 hi = vmmio_rd(m, VMMIO_DEVICE_FEATURES);
	return hi << 32 | lo;
}

void vmmio_driver_features(const struct vmmio *m, u64 features)
{
	vmmio_wr(m, VMMIO_DRIVER_FEATURES_SEL, 0);
	vmmio_wr(m, VMMIO_DRIVER_FEATURES, (u32)features);
	vmmio_wr(m, VMMIO_DRIVER_FEATURES_SEL, 1);
	vmmio_wr(m, VMMIO_DRIVER_FEATURES, (u32)(features >> 32));
}

u32 vmmio_queue_num_max(const struct vmmio *m, u32 queue)
{
	vmmio_wr(m, VMMIO_QUEUE_SEL, queue);
	return vmmio_rd(m, VMMIO_QUEUE_NUM_MAX);
}

/* vmmio_queue_setup tells the device where queue's three parts are and enables it. */
const char *vmmio_queue_setup(const struct vmmio *m, u32 queue, u32 size, u64 desc, u64 avail,
			      u64 used)
{
	vmmio_wr(m, VMMIO_QUEUE_SEL, queue);
	if (vmmio_rd(m, VMMIO_QUEUE_READY) != 0)
		return "QueueReady reads 1 before the queue was set up (after a reset it must be 0)";
	vmmio_wr(m, VMMIO_QUEUE_NUM, size);
	vmmio_wr(m, VMMIO_QUEUE_DESC_LOW, (u32)desc);
	vmmio_wr(m, VMMIO_QUEUE_DESC_HIGH, (u32)(desc >> 32));
	vmmio_wr(m, VMMIO_QUEUE_DRIVER_LOW, (u32)avail);
	vmmio_wr(m, VMMIO_QUEUE_DRIVER_HIGH, (u32)(avail >> 32));
	vmmio_wr(m, VMMIO_QUEUE_DEVICE_LOW, (u32)used);
	vmmio_wr(m, VMMIO_QUEUE_DEVICE_HIGH, (u32)(used >> 32));
	vmmio_wr(m, VMMIO_QUEUE_READY, 1);
	if (vmmio_rd(m, VMMIO_QUEUE_READY) != 1)
		return "QueueReady does not read back 1 after the driver wrote 1";
	return NULL;
}

/* Device configuration space: each field read with its own width, as the spec asks. */
u8 vmmio_cfg8(const struct vmmio *m, u32 off)
{
	return *(volatile u8 *)(uintptr_t)(m->base + VMMIO_CONFIG + off);
}

u16 vmmio_cfg16(const struct vmmio *m, u32 off)
{
	return *(volatile u16 *)(uintptr_t)(m->base + VMMIO_CONFIG + off);
}

u32 vmmio_cfg32(const struct vmmio *m, u32 off)
{
	return mmio_read32(m->base + VMMIO_CONFIG + off);
}

/* vmmio_cfg64 reads a 64-bit field as two 32-bit halves under an unchanged ConfigGeneration. */
bool vmmio_cfg64(const struct vmmio *m, u32 off, u64 *out)
{
	for (int tries = 0; tries < 16; tries++) {
		u32 g0 = vmmio_rd(m, VMMIO_CONFIG_GENERATION);
		u64 lo = vmmio_cfg32(m, off);
		u64 hi = vmmio_cfg32(m, off + 4);
		if (vmmio_rd(m, VMMIO_CONFIG_GENERATION) == g0) {
			*out = hi << 32 | lo;
			return true;
		}
	}
	return false;
}
