package lockfree

import (
	"bytes"
	"fmt"
	"testing"
)

func TestZeroMapIsUsable(t *testing.T) {
	var m Map[string, int]
	if _, ok := m.Load("a"); ok {
		t.Fatal("Load on zero map found a key")
	}
	if m.Len() != 0 {
		t.Fatalf("Len = %d, want 0", m.Len())
	}
	m.Delete("a")
	if _, ok := m.LoadAndDelete("a"); ok {
		t.Fatal("LoadAndDelete on zero map found a key")
	}
	if CompareAndSwap(&m, "a", 0, 1) {
		t.Fatal("CompareAndSwap on zero map swapped")
	}
	m.Range(func(string, int) bool { t.Fatal("Range on zero map visited"); return false })
	m.Store("a", 1)
	if v, ok := m.Load("a"); !ok || v != 1 {
		t.Fatalf("Load after Store = %d, %v; want 1, true", v, ok)
	}
}

func TestOperations(t *testing.T) {
	type step struct {
		name   string
		do     func(m *Map[string, int]) (int, bool)
		wantV  int
		wantOK bool
	}
	load := func(k string) func(m *Map[string, int]) (int, bool) {
		return func(m *Map[string, int]) (int, bool) { return m.Load(k) }
	}
	steps := []step{
		{"load missing", load("a"), 0, false},
		{"store", func(m *Map[string, int]) (int, bool) { m.Store("a", 1); return m.Load("a") }, 1, true},
		{"loadOrStore existing", func(m *Map[string, int]) (int, bool) { return m.LoadOrStore("a", 9) }, 1, true},
		{"loadOrStore new", func(m *Map[string, int]) (int, bool) { return m.LoadOrStore("b", 2) }, 2, false},
		{"swap existing", func(m *Map[string, int]) (int, bool) { return m.Swap("a", 3) }, 1, true},
		{"after swap", load("a"), 3, true},
		{"swap new", func(m *Map[string, int]) (int, bool) { return m.Swap("c", 4) }, 0, false},
		{"cas wrong old", func(m *Map[string, int]) (int, bool) { return 0, CompareAndSwap(m, "a", 1, 5) }, 0, false},
		{"cas right old", func(m *Map[string, int]) (int, bool) { return 0, CompareAndSwap(m, "a", 3, 5) }, 0, true},
		{"after cas", load("a"), 5, true},
		{"cas missing", func(m *Map[string, int]) (int, bool) { return 0, CompareAndSwap(m, "zz", 0, 1) }, 0, false},
		{"missing stays missing", load("zz"), 0, false},
		{"cad wrong old", func(m *Map[string, int]) (int, bool) { return 0, CompareAndDelete(m, "a", 3) }, 0, false},
		{"cad right old", func(m *Map[string, int]) (int, bool) { return 0, CompareAndDelete(m, "a", 5) }, 0, true},
		{"after cad", load("a"), 0, false},
		{"loadAndDelete", func(m *Map[string, int]) (int, bool) { return m.LoadAndDelete("b") }, 2, true},
		{"loadAndDelete again", func(m *Map[string, int]) (int, bool) { return m.LoadAndDelete("b") }, 0, false},
		{"len", func(m *Map[string, int]) (int, bool) { return m.Len(), true }, 1, true},
		{"delete", func(m *Map[string, int]) (int, bool) { m.Delete("c"); return m.Len(), true }, 0, true},
	}
	m := New[string, int](0)
	for _, s := range steps {
		v, ok := s.do(m)
		if v != s.wantV || ok != s.wantOK {
			t.Fatalf("%s: got %d, %v; want %d, %v", s.name, v, ok, s.wantV, s.wantOK)
		}
	}
}

func TestGrowKeepsEveryKey(t *testing.T) {
	m := New[int, int](0)
	const n = 20000
	for i := range n {
		m.Store(i, -i)
	}
	if got := len(m.root.Load().slots); got < n {
		t.Fatalf("table has %d slots for %d keys: it did not grow", got, n)
	}
	if m.Len() != n {
		t.Fatalf("Len = %d, want %d", m.Len(), n)
	}
	for i := range n {
		if v, ok := m.Load(i); !ok || v != -i {
			t.Fatalf("Load(%d) = %d, %v; want %d, true", i, v, ok, -i)
		}
	}
	seen := make(map[int]bool, n)
	m.Range(func(k, v int) bool {
		if seen[k] {
			t.Fatalf("Range visited %d twice", k)
		}
		if v != -k {
			t.Fatalf("Range gave %d=%d, want %d", k, v, -k)
		}
		seen[k] = true
		return true
	})
	if len(seen) != n {
		t.Fatalf("Range visited %d keys, want %d", len(seen), n)
	}
	for i := 0; i < n; i += 2 {
		m.Delete(i)
	}
	if m.Len() != n/2 {
		t.Fatalf("Len after deleting half = %d, want %d", m.Len(), n/2)
	}
	for i := range n {
		_, ok := m.Load(i)
		if ok != (i%2 == 1) {
			t.Fatalf("Load(%d) present = %v after deleting evens", i, ok)
		}
	}
}

func TestRangeStopsAndAllIterates(t *testing.T) {
	m := New[int, int](100)
	for i := range 100 {
		m.Store(i, i)
	}
	calls := 0
	m.Range(func(int, int) bool { calls++; return calls < 10 })
	if calls != 10 {
		t.Fatalf("Range made %d calls after f returned false at 10", calls)
	}
	sum := 0
	for k, v := range m.All() {
		if k != v {
			t.Fatalf("All gave %d=%d", k, v)
		}
		sum += k
	}
	if sum != 99*100/2 {
		t.Fatalf("All summed keys to %d, want %d", sum, 99*100/2)
	}
}

func TestRangeMayModifyMap(t *testing.T) {
	m := New[int, int](0)
	for i := range 50 {
		m.Store(i, i)
	}
	m.Range(func(k, _ int) bool {
		m.Delete(k)
		m.Store(k+1000, k) // new keys may or may not be visited
		return true
	})
	for i := range 50 {
		if _, ok := m.Load(i); ok {
			t.Fatalf("key %d survived its deletion inside Range", i)
		}
	}
}

// A non-comparable value type needs the Func variants.
func TestCompareAndSwapFuncNonComparable(t *testing.T) {
	m := New[string, []byte](0)
	m.Store("k", []byte("old"))
	if m.CompareAndSwapFunc("k", []byte("nope"), []byte("new"), bytes.Equal) {
		t.Fatal("swapped on a mismatching old value")
	}
	if !m.CompareAndSwapFunc("k", []byte("old"), []byte("new"), bytes.Equal) {
		t.Fatal("did not swap on a matching old value")
	}
	if v, _ := m.Load("k"); string(v) != "new" {
		t.Fatalf("value = %q, want new", v)
	}
	if m.CompareAndDeleteFunc("k", []byte("old"), bytes.Equal) {
		t.Fatal("deleted on a mismatching old value")
	}
	if !m.CompareAndDeleteFunc("k", []byte("new"), bytes.Equal) {
		t.Fatal("did not delete on a matching old value")
	}
	if _, ok := m.Load("k"); ok {
		t.Fatal("key present after CompareAndDeleteFunc")
	}
}

func TestLoadDoesNotAllocate(t *testing.T) {
	m := New[uint64, *int](0)
	x := 1
	for i := range uint64(1000) {
		m.Store(i, &x)
	}
	s := New[string, int](0)
	keys := make([]string, 100)
	for i := range keys {
		keys[i] = fmt.Sprintf("dev%d", i)
		s.Store(keys[i], i)
	}
	var i uint64
	if a := testing.AllocsPerRun(1000, func() { m.Load(i % 1500); i++ }); a != 0 {
		t.Fatalf("Load[uint64] allocates %v times per call", a)
	}
	if a := testing.AllocsPerRun(1000, func() { s.Load(keys[i%100]); i++ }); a != 0 {
		t.Fatalf("Load[string] allocates %v times per call", a)
	}
}

func TestSlotsFor(t *testing.T) {
	for _, n := range []int{-1, 0, 1, 8, 9, 12, 13, 100, 1024, 65536, 1 << 40} {
		s := slotsFor(n)
		if s > minSlots && int64(n) <= growThreshold(s/2) {
			t.Fatalf("slotsFor(%d) = %d, but %d slots would do", n, s, s/2)
		}
		if s&(s-1) != 0 || s < minSlots || s > maxInitialSlots {
			t.Fatalf("slotsFor(%d) = %d: not a power of two in [%d, %d]", n, s, minSlots, maxInitialSlots)
		}
		if n > 0 && s < maxInitialSlots && int64(n) > growThreshold(s) {
			t.Fatalf("slotsFor(%d) = %d would grow before holding %d entries", n, s, n)
		}
	}
}
