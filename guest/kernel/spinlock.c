/* spinlock.c: a test-and-set lock, enough for serializing serial output. */
#include "tiny.h"

void spin_lock(spinlock_t *l)
{
	while (__atomic_exchange_n(&l->locked, 1, __ATOMIC_ACQUIRE))
		while (l->locked)
			cpu_relax();
}

/* spin_trylock_bounded gives up after tries attempts, for paths (fault reports) that must not deadlock. */
bool spin_trylock_bounded(spinlock_t *l, u64 tries)
{
	for (u64 i = 0; i < tries; i++) {
		if (!__atomic_exchange_n(&l->locked, 1, __ATOMIC_ACQUIRE))
			return true;
		cpu_relax();
	}
	return false;
}

void spin_unlock(spinlock_t *l)
{
	__atomic_store_n(&l->locked, 0, __ATOMIC_RELEASE);
}
