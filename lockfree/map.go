package lockfree

import "sync/atomic"

// Map is a concurrent hash map whose reads never lock, never allocate and
// never write shared memory, and whose writers are lock-free (one CAS per
// change, retried only when another writer made progress). The zero Map is
// empty and ready to use; a Map must not be copied after first use.
//
// Keys are hashed under a random seed chosen per map (hash/maphash, with a
// faster seeded mix for plain integer keys), so no fixed set of keys
// collides in every map.
type Map[K comparable, V any] struct {
	root  atomic.Pointer[table[K, V]]
	count atomic.Int64
}

// New returns an empty map sized to hold sizeHint entries without growing.
// A sizeHint of zero or less gives the minimum size; a huge one is capped
// (at 2^20 slots, 8 MiB), and the map grows from there as entries arrive.
func New[K comparable, V any](sizeHint int) *Map[K, V] {
	m := &Map[K, V]{}
	m.root.Store(newTable[K, V](newHashSeed(), slotsFor(sizeHint), false))
	return m
}

// slotsFor returns the smallest power-of-two slot count that holds n
// entries without passing its growth threshold (see growAt).
func slotsFor(n int) int {
	s := minSlots
	for s < maxInitialSlots && int64(n) > growThreshold(s) {
		s *= 2
	}
	return s
}

// maxInitialSlots caps what a size hint can allocate up front.
const maxInitialSlots = 1 << 20

// table returns the current table, creating it for a zero Map.
func (m *Map[K, V]) table() *table[K, V] {
	if t := m.root.Load(); t != nil {
		return t
	}
	m.root.CompareAndSwap(nil, newTable[K, V](newHashSeed(), minSlots, false))
	return m.root.Load()
}

// Load returns the value stored for key, and whether there was one.
func (m *Map[K, V]) Load(key K) (value V, ok bool) {
	t := m.root.Load()
	if t == nil {
		return value, false
	}
	var h uint64
	if k, ok := any(key).(uint64); ok {
		h = mix(t.seed.word, k) // hashKey, inlined for the commonest key type
	} else {
		h = hashOther(&t.seed, key)
	}
	n := t.slots[h&t.mask()].Load()
	if n == nil {
		return value, false
	}
	if n.hash == markFrozen {
		n = resolve(t, h, n)
	} else {
		c := n
		if len(t.slots) <= smallSlots {
			c = candidate(n, h)
		}
		if c.hash == h && c.key == key {
			return c.val, true // nearly every hit ends here
		}
	}
	for ; n != nil; n = n.next {
		if n.hash == h && n.key == key {
			return n.val, true
		}
	}
	return value, false
}

// action is what a write decided to do with the key's entry.
type action uint8

const (
	keep   action = iota // leave the map unchanged
	put                  // store the new value
	remove               // delete the entry
)

// apply is the one write path. decide sees the key's current value (found
// is false if absent) and returns the new value and what to do; apply
// installs that with one CAS, and if another writer changed the bucket
// first, asks decide again on the fresh value. It returns the value decide
// last saw, whether there was one, and what it did.
func (m *Map[K, V]) apply(key K, decide func(cur V, found bool) (V, action)) (V, bool, action) {
	var buf [8]entry[K, V]
	for {
		t := m.table()
		h := t.hash(key)
		s, head := t.locate(h)
		es := entries(head, buf[:0])
		i := index(es, h, key)
		var cur V
		if i >= 0 {
			cur = es[i].val
		}
		val, act := decide(cur, i >= 0)
		switch {
		case act == keep || (act == remove && i < 0):
			return cur, i >= 0, keep
		case act == remove:
			es = append(es[:i], es[i+1:]...)
		case i < 0:
			es = append(es, entry[K, V]{hash: h, key: key, val: val})
		default:
			es[i].val = val
		}
		if !s.CompareAndSwap(head, build(es)) {
			continue
		}
		switch {
		case act == remove:
			m.count.Add(-1)
		case i < 0:
			if c, r := m.count.Add(1), m.root.Load(); c > r.growAt() {
				m.grow(r)
			}
		}
		return cur, i >= 0, act
	}
}

// Store sets the value for key.
func (m *Map[K, V]) Store(key K, value V) {
	m.apply(key, func(V, bool) (V, action) { return value, put })
}

// Swap stores value for key and returns the previous value, if any.
func (m *Map[K, V]) Swap(key K, value V) (previous V, loaded bool) {
	previous, loaded, _ = m.apply(key, func(V, bool) (V, action) { return value, put })
	return previous, loaded
}

// LoadOrStore returns the existing value for key if there is one;
// otherwise it stores value and returns it. loaded reports which happened.
func (m *Map[K, V]) LoadOrStore(key K, value V) (actual V, loaded bool) {
	if v, ok := m.Load(key); ok {
		return v, true
	}
	cur, found, _ := m.apply(key, func(_ V, found bool) (V, action) {
		if found {
			return value, keep
		}
		return value, put
	})
	if found {
		return cur, true
	}
	return value, false
}

// Delete removes key's entry, if any.
func (m *Map[K, V]) Delete(key K) {
	m.LoadAndDelete(key)
}

// LoadAndDelete removes key's entry and returns the value it had, if any.
func (m *Map[K, V]) LoadAndDelete(key K) (value V, loaded bool) {
	if m.root.Load() == nil {
		return value, false
	}
	cur, _, act := m.apply(key, func(V, bool) (V, action) { return value, remove })
	if act != remove {
		return value, false
	}
	return cur, true
}

// CompareAndSwapFunc stores new for key if key is present and
// equal(current, old) holds, and reports whether it did. It exists because V
// need not be comparable; for comparable values, the package-level
// CompareAndSwap uses ==. equal may be called more than once if other
// writers race on the same bucket, and must not modify the map.
func (m *Map[K, V]) CompareAndSwapFunc(key K, old, new V, equal func(current, old V) bool) (swapped bool) {
	if m.root.Load() == nil {
		return false
	}
	_, _, act := m.apply(key, func(cur V, found bool) (V, action) {
		if !found || !equal(cur, old) {
			return new, keep
		}
		return new, put
	})
	return act == put
}

// CompareAndDeleteFunc deletes key's entry if equal(current, old) holds, and
// reports whether it did. See CompareAndSwapFunc for why it takes equal.
func (m *Map[K, V]) CompareAndDeleteFunc(key K, old V, equal func(current, old V) bool) (deleted bool) {
	if m.root.Load() == nil {
		return false
	}
	_, _, act := m.apply(key, func(cur V, found bool) (V, action) {
		if !found || !equal(cur, old) {
			return old, keep
		}
		return old, remove
	})
	return act == remove
}

// CompareAndSwap stores new for key if key's current value == old, and
// reports whether it did. It is a function rather than a method because it
// needs V comparable, which a method of Map[K, V any] cannot demand.
func CompareAndSwap[K, V comparable](m *Map[K, V], key K, old, new V) (swapped bool) {
	return m.CompareAndSwapFunc(key, old, new, equal[V])
}

// CompareAndDelete deletes key's entry if its value == old, and reports
// whether it did.
func CompareAndDelete[K, V comparable](m *Map[K, V], key K, old V) (deleted bool) {
	return m.CompareAndDeleteFunc(key, old, equal[V])
}

func equal[V comparable](a, b V) bool { return a == b }

// Len returns the number of entries. While writers run it is a recent count
// rather than an exact snapshot.
func (m *Map[K, V]) Len() int {
	return int(max(m.count.Load(), 0))
}
