package lockfree

import (
	"hash/maphash"
	"sync/atomic"
)

// nodeKind tells entries apart from the two markers that only ever sit at
// the head of a slot while the map grows.
type nodeKind uint8

const (
	// kindEntry is a key/value node; next continues the chain.
	kindEntry nodeKind = iota
	// kindFrozen heads an old-table slot that has stopped taking writes:
	// next is the bucket's last chain, link the table it moves to.
	kindFrozen
	// kindPending fills new-table slots not yet installed: link is the old
	// table whose bucket is still authoritative.
	kindPending
)

// node is immutable once published: that is what lets readers walk chains
// without locks and makes pointer equality imply content equality (see the
// package comment on ABA).
type node[K comparable, V any] struct {
	hash uint64
	kind nodeKind
	key  K
	val  V
	next *node[K, V]
	link *table[K, V]
}

// table is one generation of the bucket array.
type table[K comparable, V any] struct {
	seed  maphash.Seed
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

// newTable returns a table of size slots (a power of two). If from is not
// nil, every slot starts as a pending marker pointing back at from.
func newTable[K comparable, V any](seed maphash.Seed, size int, from *table[K, V]) *table[K, V] {
	t := &table[K, V]{seed: seed, slots: make([]atomic.Pointer[node[K, V]], size)}
	if from != nil {
		p := &node[K, V]{kind: kindPending, link: from}
		for i := range t.slots {
			t.slots[i].Store(p)
		}
	}
	return t
}

// hash returns key's hash with the top bit set, so that no entry's hash is
// zero, the hash markers carry. Slots are chosen by the low bits.
func (t *table[K, V]) hash(key K) uint64 {
	return maphash.Comparable(t.seed, key) | 1<<63
}

// mask selects a slot index from a hash.
func (t *table[K, V]) mask() uint64 { return uint64(len(t.slots) - 1) }

// growAt is the entry count above which t should grow: 3/4 load keeps the
// average chain a reader walks short.
func (t *table[K, V]) growAt() int64 { return int64(len(t.slots)) / 4 * 3 }

// resolve turns a frozen marker found at the head of a slot for hash h into
// the entry chain that is authoritative for h at some instant during the
// call. Only readers use it; writers use locate, which helps buckets move.
//
// Readers never meet a pending marker at the head of a slot they load from
// the root: the root switches to a new table only once every slot is
// installed. They only meet one here, one table further, and then the frozen
// chain they came from is still the truth, because nothing writes to a
// pending slot.
func resolve[K comparable, V any](h uint64, head *node[K, V]) *node[K, V] {
	for head != nil && head.kind == kindFrozen {
		nt := head.link
		nh := nt.slots[h&nt.mask()].Load()
		if nh != nil && nh.kind == kindPending {
			return head.next
		}
		head = nh
	}
	return head
}
