package lockfree

import "sync/atomic"

// moveChunk is how many old buckets a helper claims at a time while the map
// grows: big enough to keep the shared claim counter cold, small enough that
// several writers share the work.
const moveChunk = 64

// locate returns the slot that writes for hash h go to, starting at t, and
// the slot's current entry chain. It moves (helps move) any bucket in the
// way, so the slot it returns is neither frozen nor pending.
func (t *table[K, V]) locate(h uint64) (*atomic.Pointer[node[K, V]], *node[K, V]) {
	var prev *table[K, V]
	for {
		s := &t.slots[h&t.mask()]
		head := s.Load()
		switch {
		case head == nil || head.isEntry():
			return s, head
		case head.hash == markFrozen:
			prev, t = t, t.next.Load()
		default:
			// Pending. locate starts at the root, which has no pending
			// slots, so it got here through prev's frozen slot.
			prev.moveBucket(h&prev.mask(), t)
		}
	}
}

// moveBucket freezes t's bucket i and installs its two halves in nt (which
// is t.next). It is idempotent: any number of goroutines may run it for the
// same bucket, and all install the same content.
func (t *table[K, V]) moveBucket(i uint64, nt *table[K, V]) {
	s := &t.slots[i]
	var frozen *node[K, V]
	for {
		head := s.Load()
		if head != nil && head.hash == markFrozen {
			frozen = head
			break
		}
		// head is an entry chain (or empty): an old table has no pending
		// slots, since it only grows after its own move finished.
		f := &node[K, V]{hash: markFrozen, next: head}
		if s.CompareAndSwap(head, f) {
			frozen = f
			break
		}
		// A writer got in first; freeze what it left.
	}
	for _, j := range [2]uint64{i, i + uint64(len(t.slots))} {
		ns := &nt.slots[j]
		cur := ns.Load()
		if cur != nil && cur.hash == markPending {
			// Only the first CAS from the pending marker wins; the marker is
			// never stored again, so a late helper cannot overwrite writes
			// made after the install.
			ns.CompareAndSwap(cur, split(frozen.next, nt.mask(), j))
		}
	}
}

// grow moves the map from t to a table twice its size. Every writer that
// sees the map over its load calls it; they share the work in chunks, and
// whoever finishes the last chunk switches the map to the new table.
// A helper that is descheduled mid-chunk delays that switch but blocks no
// read or write: frozen buckets forward to the new table, unfrozen ones
// still take writes in place.
func (m *Map[K, V]) grow(t *table[K, V]) {
	if m.root.Load() != t {
		return
	}
	nt := t.next.Load()
	if nt == nil {
		n := len(t.slots) * 2
		if n <= 0 || n > maxSlots {
			return // cannot grow further; chains just get longer
		}
		cand := newTable[K, V](t.seed, n, true)
		if t.next.CompareAndSwap(nil, cand) {
			nt = cand
		} else {
			nt = t.next.Load()
		}
	}
	total := int64(len(t.slots))
	for {
		start := t.claim.Add(moveChunk) - moveChunk
		if start >= total {
			return
		}
		end := min(start+moveChunk, total)
		for i := start; i < end; i++ {
			t.moveBucket(uint64(i), nt)
		}
		if t.moved.Add(end-start) == total {
			m.root.CompareAndSwap(t, nt)
			return
		}
	}
}

// maxSlots caps the table at 2^30 slots (8 GiB of slot pointers); past
// that, chains grow instead.
const maxSlots = 1 << 30
