package lockfree

import "testing"

// TestHalfMovedTable stops a growth halfway by hand and checks that every
// operation is right while buckets sit in all three states: unmoved in the
// old table, frozen there, and pending or installed in the new one.
func TestHalfMovedTable(t *testing.T) {
	m := New[int, int](0)
	// Hold growth off while filling a 16-slot table past its threshold, so
	// that buckets have chains; the count is put right before the move ends.
	m.count.Store(-1000)
	const n = 12
	for i := range n {
		m.Store(i, i)
	}
	old := m.root.Load()
	if len(old.slots) != minSlots {
		t.Fatalf("setup: table has %d slots, want %d", len(old.slots), minSlots)
	}
	nt := newTable[int, int](old.seed, 2*minSlots, true)
	old.next.Store(nt)
	// Freeze every bucket but install only some halves: freeze all, then
	// move the first half of the buckets fully.
	for i := range uint64(minSlots) {
		for {
			h := old.slots[i].Load()
			if old.slots[i].CompareAndSwap(h, &node[int, int]{hash: markFrozen, next: h}) {
				break
			}
		}
	}
	for i := range uint64(minSlots / 2) {
		old.moveBucket(i, nt)
	}
	check := func(stage string, want map[int]int) {
		t.Helper()
		for k := range 40 {
			v, ok := m.Load(k)
			wv, wok := want[k]
			if ok != wok || v != wv {
				t.Fatalf("%s: Load(%d) = %d, %v; want %d, %v", stage, k, v, ok, wv, wok)
			}
		}
		got := map[int]int{}
		m.Range(func(k, v int) bool {
			if _, dup := got[k]; dup {
				t.Fatalf("%s: Range visited %d twice", stage, k)
			}
			got[k] = v
			return true
		})
		if len(got) != len(want) {
			t.Fatalf("%s: Range saw %d keys %v, want %d %v", stage, len(got), got, len(want), want)
		}
		for k, v := range want {
			if got[k] != v {
				t.Fatalf("%s: Range gave %d=%d, want %d", stage, k, got[k], v)
			}
		}
	}
	want := map[int]int{}
	for i := range n {
		want[i] = i
	}
	check("half moved", want)

	// Writes during the move land in the new table, moving buckets as
	// needed, and stay visible.
	for i := range n / 2 {
		m.Store(i, 100+i)
		want[i] = 100 + i
	}
	m.Delete(n - 1)
	delete(want, n-1)
	if !CompareAndSwap(m, n-2, n-2, 7) {
		t.Fatal("CompareAndSwap on a frozen bucket failed")
	}
	want[n-2] = 7
	m.Store(30, 30)
	want[30] = 30
	check("after writes", want)
	pending := 0
	for i := range uint64(len(nt.slots)) {
		if h := nt.slots[i].Load(); h != nil && h.hash == markPending {
			pending++
		}
	}
	if pending == 0 {
		t.Fatal("no slot left pending: the half-moved state was not exercised")
	}

	// Finish the move the normal way and switch the root.
	m.count.Store(int64(len(want)))
	m.grow(old)
	if m.root.Load() != nt {
		t.Fatal("grow did not switch the root to the new table")
	}
	for i := range uint64(len(nt.slots)) {
		if h := nt.slots[i].Load(); h != nil && !h.isEntry() {
			t.Fatalf("slot %d still holds marker %d after the move", i, h.hash)
		}
	}
	check("after move", want)
}
