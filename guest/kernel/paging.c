/*
 * paging.c: extend boot.S's identity map with 2 MiB pages where the memory
 * test needs RAM that the boot map leaves out (2–3 GiB, and above 4 GiB).
 */
#include "tiny.h"

#define PTE_P 0x001UL
#define PTE_RW 0x002UL
#define PTE_PS 0x080UL
#define PTE_ADDR 0x000ffffffffff000UL
#define TABLE_POOL 40 /* enough for 32 GiB above the boot map */

/* In .noinit: boot.S leaves it unzeroed; table_at clears each table it hands out. */
static u64 pool[TABLE_POOL][512] __attribute__((aligned(4096), section(".noinit")));
static int pool_used;

static u64 *table_at(u64 *parent, unsigned idx, const char **why)
{
	if (parent[idx] & PTE_P)
		return (u64 *)(uintptr_t)(parent[idx] & PTE_ADDR);
	if (pool_used == TABLE_POOL) {
		*why = "out of page-table pages";
		return NULL;
	}
	u64 *t = pool[pool_used++];
	memset(t, 0, 4096);
	parent[idx] = (u64)(uintptr_t)t | PTE_P | PTE_RW;
	return t;
}

/* map_identity_2m maps [start, end) rounded out to 2 MiB, write-back, leaving existing mappings alone. */
bool map_identity_2m(u64 start, u64 end, const char **why)
{
	start &= ~(2 * MiB - 1);
	if (end > (1UL << 47)) {
		*why = "address beyond 47 bits";
		return false;
	}
	for (u64 a = start; a < end; a += 2 * MiB) {
		u64 *pdpt = table_at(pml4, (a >> 39) & 511, why);
		if (!pdpt)
			return false;
		u64 *pd = table_at(pdpt, (a >> 30) & 511, why);
		if (!pd)
			return false;
		u64 *pde = &pd[(a >> 21) & 511];
		if (!(*pde & PTE_P))
			*pde = a | PTE_P | PTE_RW | PTE_PS;
	}
	write_cr3(read_cr3()); /* flush: shadow-paging KVMs (kvm_pvm) want it */
	return true;
}

/* is_mapped walks the page tables for addr. */
bool is_mapped(u64 addr)
{
	u64 e = pml4[(addr >> 39) & 511];
	if (!(e & PTE_P))
		return false;
	e = ((u64 *)(uintptr_t)(e & PTE_ADDR))[(addr >> 30) & 511];
	if (!(e & PTE_P))
		return false;
	e = ((u64 *)(uintptr_t)(e & PTE_ADDR))[(addr >> 21) & 511];
	return e & PTE_P;
}
