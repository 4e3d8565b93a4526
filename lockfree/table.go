package lockfree

import "sync/atomic"

// An entry's hash always has its top bit set (see hashKey). The two
// markers that sit at the head of a slot while the map grows use hash
// values without it, so they never match a lookup.
const (
	// markFrozen heads an old-table slot that has stopped taking writes;
	// next is the bucket's last chain, and the table's next field says
	// where the bucket moves to.
	markFrozen uint64 = 1
	// markPending fills new-table slots not yet installed; the old table's
	// bucket is still authoritative.
	markPending uint64 = 2
)

// node is immutable once published: that is what lets readers walk chains
// without locks and makes pointer equality imply content equality (see the
// package comment on ABA). It is four words for word-sized keys and values.
type node[K comparable, V any] struct {
	hash uint64
	key  K
	next *node[K, V]
	val  V
}

// isEntry reports whether n is a key/value node rather than a marker.
func (n *node[K, V]) isEntry() bool { return n.hash>>63 == 1 }

// table is one generation of the bucket array.
type table[K comparable, V any] struct {
	seed  hashSeed
	slots []atomic.Pointer[node[K, V]]
	// next is the table this one is growing into; set once, never cleared.
	next atomic.Pointer[table[K, V]]
	// claim and moved track the cooperative move of this table's buckets
	// into next: claim hands out chunks, moved counts finished buckets.
	claim atomic.Int64
	moved atomic.Int64
}

// minSlots keeps tiny maps from growing on their first few inserts.
const minSlots = 16

// newTable returns a table of size slots (a power of two). If pending is
// true, every slot starts as a pending marker: the table will be filled
// from the one it replaces.
func newTable[K comparable, V any](seed hashSeed, size int, pending bool) *table[K, V] {
	t := &table[K, V]{seed: seed, slots: make([]atomic.Pointer[node[K, V]], size)}
	if pending {
		p := &node[K, V]{hash: markPending}
		for i := range t.slots {
			t.slots[i].Store(p)
		}
	}
	return t
}

// hash returns key's hash under the map's seed; see hashKey.
func (t *table[K, V]) hash(key K) uint64 { return hashKey(&t.seed, key) }

// mask selects a slot index from a hash.
func (t *table[K, V]) mask() uint64 { return uint64(len(t.slots) - 1) }

// growAt is the entry count above which t should grow. A hit walks on
// average 1 + load/2 nodes, each a likely cache miss, so small tables (a
// device bus) stay at most 1/4 full: 32 bytes of slots per entry buys
// shorter chains while the table still fits in cache. Past that, the
// table's own footprint costs more misses than the chains, so big tables
// go to 1/2.
func (t *table[K, V]) growAt() int64 { return growThreshold(len(t.slots)) }

func growThreshold(slots int) int64 {
	if slots <= smallSlots {
		return int64(slots) / 4
	}
	return int64(slots) / 2
}

// smallSlots is the largest table kept at 1/4 load (128 KiB of slots).
const smallSlots = 1 << 14

// resolve turns a frozen marker found at the head of a slot for hash h into
// the entry chain that is authoritative for h at some instant during the
// call. Only readers use it; writers use locate, which helps buckets move.
//
// Readers never meet a pending marker at the head of a slot they load from
// the root: the root switches to a new table only once every slot is
// installed. They only meet one here, one table further, and then the frozen
// chain they came from is still the truth, because nothing writes to a
// pending slot.
func resolve[K comparable, V any](t *table[K, V], h uint64, head *node[K, V]) *node[K, V] {
	for head != nil && head.hash == markFrozen {
		nt := t.next.Load()
		nh := nt.slots[h&nt.mask()].Load()
		if nh != nil && nh.hash == markPending {
			return head.next
		}
		t, head = nt, nh
	}
	return head
}
