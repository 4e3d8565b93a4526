//go:build linux

package zerocopy

import "sync/atomic"

// freeList is a Treiber stack of buffer indices: next[i] links index i to
// the one below it, and head packs the top index (low 32 bits) with a tag
// (high 32 bits) that every successful push or pop increments.
//
// ABA defence: pop reads head = (tag t, top i) and next[i] = j, then CASes
// head to (t+1, j). Between the read and the CAS, other goroutines may pop i,
// pop j (now in use), and push i back; head is then (t+3, i) with next[i]
// pointing past j. Without the tag the CAS would still see top i, succeed,
// and make the in-use j the top: j would be handed out twice. With the tag
// the CAS expects t and fails, and pop retries with fresh values. A false
// success needs exactly 2^32 head changes while one goroutine sits between
// its load and its CAS. next[] entries are atomics because a pop may read
// next[i] while a push rewrites it; such a stale read is always followed by
// a failing CAS.
type freeList struct {
	head atomic.Uint64
	next []atomic.Uint32
}

// emptyTop marks an empty stack (indices stay below MaxCount < 2^32-1).
const emptyTop = ^uint32(0)

// init fills the stack with 0..n-1, 0 on top, so fresh pools hand out
// buffers in arena order.
func (f *freeList) init(n int) {
	f.next = make([]atomic.Uint32, n)
	for i := range n - 1 {
		f.next[i].Store(uint32(i + 1))
	}
	f.next[n-1].Store(emptyTop)
	f.head.Store(0)
}

func (f *freeList) push(i uint32) {
	for {
		old := f.head.Load()
		f.next[i].Store(uint32(old))
		if f.head.CompareAndSwap(old, (old>>32+1)<<32|uint64(i)) {
			return
		}
	}
}

func (f *freeList) pop() (uint32, bool) {
	for {
		old := f.head.Load()
		top := uint32(old)
		if top == emptyTop {
			return 0, false
		}
		next := f.next[top].Load()
		if f.head.CompareAndSwap(old, (old>>32+1)<<32|uint64(next)) {
			return top, true
		}
	}
}
