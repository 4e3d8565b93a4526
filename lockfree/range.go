package lockfree

import "iter"

// Range calls f for each entry until f returns false. Like sync.Map.Range it
// is not a snapshot: every key present for the whole call is visited exactly
// once, a key stored or deleted meanwhile may or may not be, and no key is
// visited twice. f may modify the map. Each bucket is read as an immutable
// chain, so Range never blocks writers and writers never block it.
func (m *Map[K, V]) Range(f func(key K, value V) bool) {
	t := m.root.Load()
	if t == nil {
		return
	}
	for i := range uint64(len(t.slots)) {
		if !rangeSlot(t, i, t.slots[i].Load(), f) {
			return
		}
	}
}

// All returns an iterator over the map's entries, with Range's guarantees.
func (m *Map[K, V]) All() iter.Seq2[K, V] {
	return func(yield func(K, V) bool) { m.Range(yield) }
}

// rangeSlot visits the entries of t's slot i, whose head was just loaded.
// Following a frozen slot into the bigger table splits the bucket into its
// two halves there, so each key is read once, from where it lives now.
func rangeSlot[K comparable, V any](t *table[K, V], i uint64, head *node[K, V], f func(K, V) bool) bool {
	if head == nil || head.isEntry() {
		for n := head; n != nil; n = n.next {
			if !f(n.key, n.val) {
				return false
			}
		}
		return true
	}
	// Frozen (a table that is or was the root never holds pending markers).
	// A half still pending in the next table is read from the frozen chain,
	// which stays authoritative until that half is installed.
	nt := t.next.Load()
	for _, j := range [2]uint64{i, i + uint64(len(t.slots))} {
		nh := nt.slots[j].Load()
		if nh != nil && nh.hash == markPending {
			nh = split(head.next, nt.mask(), j)
		}
		if !rangeSlot(nt, j, nh, f) {
			return false
		}
	}
	return true
}
