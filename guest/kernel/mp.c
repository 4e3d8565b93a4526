/*
 * mp.c: count CPUs from the Intel MultiProcessor Specification 1.4 tables.
 * The floating pointer "_MP_" sits on a 16-byte boundary in the EBDA or in
 * 0xf0000–0xfffff and points at the "PCMP" configuration table, which has one
 * 20-byte processor entry per CPU. Every read is bounded by the table's own
 * length: the tables are input from the VMM.
 */
#include "tiny.h"

#define MPC_HEADER_LEN 44
#define MPC_ENTRY_PROCESSOR 0
#define MPC_PROCESSOR_LEN 20
#define MPC_OTHER_LEN 8
#define CPU_ENABLED 0x01
#define CPU_BSP 0x02

static u8 checksum(const u8 *p, size_t n)
{
	u8 s = 0;
	while (n--)
		s += *p++;
	return s;
}

static const u8 *scan(u64 start, u64 end)
{
	for (u64 a = (start + 15) & ~15UL; a + 16 <= end; a += 16) {
		const u8 *p = (const u8 *)(uintptr_t)a;
		if (memcmp(p, "_MP_", 4) == 0 && p[8] == 1 && checksum(p, 16) == 0)
			return p;
	}
	return NULL;
}

static const u8 *find_floating(void)
{
	u64 ebda = (u64)*(volatile u16 *)0x40e << 4;
	const u8 *p = NULL;
	if (ebda >= 0x80000 && ebda < 0xa0000)
		p = scan(ebda, ebda + 1024);
	if (!p)
		p = scan(0x9fc00, 0xa0000);
	if (!p)
		p = scan(0xf0000, 0x100000);
	return p;
}

/* mp_cpus fills out[] with up to max enabled processors and returns how many the table lists, or -1. */
int mp_cpus(struct mp_cpu *out, int max, const char **why)
{
	const u8 *fp = find_floating();
	if (!fp) {
		*why = "no _MP_ floating pointer in the EBDA or 0xf0000-0xfffff";
		return -1;
	}
	u32 cfg_addr = *(const u32 *)(fp + 4);
	if (cfg_addr == 0) {
		*why = "MP floating pointer names a default configuration, not a table";
		return -1;
	}
	if (cfg_addr >= 4 * GiB - 64 * KiB || !is_mapped(cfg_addr)) {
		*why = "MP config table address is not mapped";
		return -1;
	}
	const u8 *cfg = (const u8 *)(uintptr_t)cfg_addr;
	if (memcmp(cfg, "PCMP", 4) != 0) {
		*why = "MP config table has no PCMP signature";
		return -1;
	}
	u16 len = *(const u16 *)(cfg + 4);
	u16 count = *(const u16 *)(cfg + 34);
	if (len < MPC_HEADER_LEN || checksum(cfg, len) != 0) {
		*why = "MP config table length or checksum is wrong";
		return -1;
	}
	int n = 0;
	u32 off = MPC_HEADER_LEN;
	for (u16 i = 0; i < count && off < len; i++) {
		const u8 *e = cfg + off;
		if (e[0] == MPC_ENTRY_PROCESSOR) {
			if (off + MPC_PROCESSOR_LEN > len)
				break;
			if (e[3] & CPU_ENABLED) {
				if (n < max) {
					out[n].apic_id = e[1];
					out[n].bsp = e[3] & CPU_BSP;
				}
				n++;
			}
			off += MPC_PROCESSOR_LEN;
		} else if (e[0] <= 4) {
			off += MPC_OTHER_LEN;
		} else {
			break; /* unknown entry type: its length is unknown too */
		}
	}
	if (n == 0) {
		*why = "MP config table lists no enabled processor";
		return -1;
	}
	return n;
}

/*
 * cpus_override reads cpus=N from the command line: APIC ids 0..N-1, BSP 0.
 * It is for firmware whose MP table undercounts (SeaBIOS under QEMU lists
 * only the BSP). Returns 0 when there is no cpus=, -1 if invalid.
 */
int cpus_override(struct mp_cpu *out, int max, const char **why)
{
	const char *val;
	size_t len;
	u64 n;
	if (!cmdline_value("cpus", &val, &len))
		return 0;
	if (!parse_u64(val, len, &n) || n == 0 || n > (u64)max) {
		*why = "cpus= must be a number of CPUs from 1 to 32";
		return -1;
	}
	for (u64 i = 0; i < n; i++) {
		out[i].apic_id = (u8)i;
		out[i].bsp = i == 0;
	}
	return (int)n;
}
