package lockfree

// Chains are immutable: every change builds a new head that shares the
// untouched tail of the old chain. These helpers do that copying.

// find returns the entry for key in chain, or nil.
func find[K comparable, V any](chain *node[K, V], h uint64, key K) *node[K, V] {
	for n := chain; n != nil; n = n.next {
		if n.hash == h && n.key == key {
			return n
		}
	}
	return nil
}

// replace returns chain with target swapped for with (with == nil removes
// target). The nodes in front of target are copied; those behind are shared.
// target must be in chain.
func replace[K comparable, V any](chain, target, with *node[K, V]) *node[K, V] {
	rest := target.next
	if with != nil {
		with.next = rest
		rest = with
	}
	return copyPrefix(chain, target, rest)
}

// copyPrefix copies the nodes of chain before stop, in order, and links the
// last copy to rest.
func copyPrefix[K comparable, V any](chain, stop, rest *node[K, V]) *node[K, V] {
	if chain == stop {
		return rest
	}
	head := &node[K, V]{hash: chain.hash, key: chain.key, val: chain.val}
	tail := head
	for n := chain.next; n != stop; n = n.next {
		c := &node[K, V]{hash: n.hash, key: n.key, val: n.val}
		tail.next = c
		tail = c
	}
	tail.next = rest
	return head
}

// split returns the entries of chain whose hash selects slot idx under mask,
// in order. When they all do, chain itself is returned unchanged.
func split[K comparable, V any](chain *node[K, V], mask, idx uint64) *node[K, V] {
	all := true
	for n := chain; n != nil; n = n.next {
		if n.hash&mask != idx {
			all = false
			break
		}
	}
	if all {
		return chain
	}
	var head, tail *node[K, V]
	for n := chain; n != nil; n = n.next {
		if n.hash&mask != idx {
			continue
		}
		c := &node[K, V]{hash: n.hash, key: n.key, val: n.val}
		if tail == nil {
			head = c
		} else {
			tail.next = c
		}
		tail = c
	}
	return head
}
