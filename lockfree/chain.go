package lockfree

// Chains are immutable: every change copies the bucket's entries, edits the
// copy and builds a new chain. A chain is built as one array of nodes, so
// its nodes sit next to each other in memory: a hit on the second node of a
// two-node chain (a third of keys at half load) reads the same cache line
// as the first instead of costing another miss, while a chain of one is
// still a single 32-byte node. Readers just follow next; only the memory
// layout knows.

// entry is one key/value pair while a write edits a bucket.
type entry[K comparable, V any] struct {
	hash uint64
	key  K
	val  V
}

// entries appends chain's entries to buf, in chain order.
func entries[K comparable, V any](chain *node[K, V], buf []entry[K, V]) []entry[K, V] {
	for n := chain; n != nil; n = n.next {
		buf = append(buf, entry[K, V]{hash: n.hash, key: n.key, val: n.val})
	}
	return buf
}

// index returns the position of key in es, or -1.
func index[K comparable, V any](es []entry[K, V], h uint64, key K) int {
	for i := range es {
		if es[i].hash == h && es[i].key == key {
			return i
		}
	}
	return -1
}

// build returns a new chain holding es, in order, as one contiguous run of
// nodes. No entries give nil, the empty bucket.
func build[K comparable, V any](es []entry[K, V]) *node[K, V] {
	switch len(es) {
	case 0:
		return nil
	case 1: // most buckets: a fixed-size allocation is cheaper than makeslice
		return &node[K, V]{hash: es[0].hash, key: es[0].key, val: es[0].val}
	}
	ns := make([]node[K, V], len(es))
	for i, e := range es {
		ns[i] = node[K, V]{hash: e.hash, key: e.key, val: e.val}
		if i > 0 {
			ns[i-1].next = &ns[i]
		}
	}
	return &ns[0]
}

// split returns the entries of chain whose hash selects slot idx under mask,
// as a chain. When they all do, chain itself is returned unchanged.
func split[K comparable, V any](chain *node[K, V], mask, idx uint64) *node[K, V] {
	var buf [8]entry[K, V]
	es := entries(chain, buf[:0])
	kept := es[:0]
	for _, e := range es {
		if e.hash&mask == idx {
			kept = append(kept, e)
		}
	}
	if len(kept) == len(es) {
		return chain
	}
	return build(kept)
}

// candidate returns the node of chain n that a lookup for hash h tests
// first: n itself when its hash is h or it is the chain's only node, and
// otherwise n's successor. It picks without a conditional branch: which of
// a bucket's first two nodes holds the key is close to a coin toss, and a
// mispredicted branch costs more than the rest of a cached lookup. (The
// compiler will not turn `if n.hash != h { c = n.next }` into a
// conditional move, because c is then used as a load address; indexing a
// two-element array with a 0/1 computed by set-on-condition does the same
// job.)
//
// Precondition: n is an entry node, not a marker.
func candidate[K comparable, V any](n *node[K, V], h uint64) *node[K, V] {
	nx := n.next
	var miss, more uint
	if n.hash != h {
		miss = 1
	}
	if nx != nil {
		more = 1
	}
	return [2]*node[K, V]{n, nx}[miss&more]
}
