package lockfree

import "testing"

// TestLongChains holds growth off so that a 16-slot table's buckets hold
// long chains, then checks every operation on them: keys at every position,
// deletes from the middle of a chain, and a later growth that splits them.
func TestLongChains(t *testing.T) {
	m := New[uint64, uint64](0)
	m.count.Store(-1 << 20) // no growth while filling
	const n = 301
	for k := range uint64(n) {
		m.Store(k, k*3)
	}
	longest := 0
	for i := range m.root.Load().slots {
		c := 0
		for x := m.root.Load().slots[i].Load(); x != nil; x = x.next {
			c++
		}
		longest = max(longest, c)
	}
	if longest < 8 {
		t.Fatalf("setup: longest chain has %d nodes, want many", longest)
	}
	check := func(stage string, present func(k uint64) bool, val func(k uint64) uint64) {
		t.Helper()
		seen := 0
		for k := range uint64(n + 20) {
			v, ok := m.Load(k)
			want := k < n && present(k)
			if ok != want || (ok && v != val(k)) {
				t.Fatalf("%s: Load(%d) = %d, %v; want %d, %v", stage, k, v, ok, val(k), want)
			}
			if want {
				seen++
			}
		}
		got := 0
		m.Range(func(k, v uint64) bool {
			if k >= n || !present(k) || v != val(k) {
				t.Fatalf("%s: Range gave %d=%d, which should not be there", stage, k, v)
			}
			got++
			return true
		})
		if got != seen {
			t.Fatalf("%s: Range saw %d entries, want %d", stage, got, seen)
		}
	}
	check("filled", func(uint64) bool { return true }, func(k uint64) uint64 { return k * 3 })
	for k := uint64(0); k < n; k += 3 {
		if v, ok := m.LoadAndDelete(k); !ok || v != k*3 {
			t.Fatalf("LoadAndDelete(%d) = %d, %v; want %d, true", k, v, ok, k*3)
		}
	}
	for k := uint64(1); k < n; k += 3 {
		if !CompareAndSwap(m, k, k*3, k*5) {
			t.Fatalf("CompareAndSwap(%d) failed on a present key", k)
		}
	}
	present := func(k uint64) bool { return k%3 != 0 }
	val := func(k uint64) uint64 {
		if k%3 == 1 {
			return k * 5
		}
		return k * 3
	}
	check("after deletes and swaps", present, val)
	m.count.Store(n - (n+2)/3) // the real count, so the next insert grows
	m.Store(1<<40, 1)          // over the threshold: grows, splitting every chain
	m.Delete(1 << 40)
	if len(m.root.Load().slots) == minSlots {
		t.Fatal("map did not grow")
	}
	check("after growth", present, val)
}

// TestCandidate checks the branch-free pick between a chain's first two
// nodes, including a lone node whose hash does not match (no successor to
// pick) and a key in the third node (candidate may only say "second").
func TestCandidate(t *testing.T) {
	chain := build([]entry[int, int]{{hash: 1<<63 | 10, key: 1}, {hash: 1<<63 | 20, key: 2}, {hash: 1<<63 | 30, key: 3}})
	one := build([]entry[int, int]{{hash: 1<<63 | 10, key: 1}})
	tests := []struct {
		name  string
		chain *node[int, int]
		h     uint64
		want  *node[int, int]
	}{
		{"first", chain, 1<<63 | 10, chain},
		{"second", chain, 1<<63 | 20, chain.next},
		{"third", chain, 1<<63 | 30, chain.next},
		{"absent", chain, 1<<63 | 40, chain.next},
		{"lone hit", one, 1<<63 | 10, one},
		{"lone miss", one, 1<<63 | 20, one},
	}
	for _, tc := range tests {
		if got := candidate(tc.chain, tc.h); got != tc.want {
			t.Errorf("%s: candidate = %p, want %p", tc.name, got, tc.want)
		}
	}
}
