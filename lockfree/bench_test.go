package lockfree

import (
	"strconv"
	"testing"
)

// These measure the map alone; BenchmarkMaps (compare_test.go) compares it with sync.Map,
// xsync.Map and an RWMutex-guarded map (see docs/lockfree.md).

// BenchmarkLoad measures lookups alone: filling the map happens before the
// timer starts (TestBenchmarkLoadTimesOnlyLookups holds it to that).
func BenchmarkLoad(b *testing.B) {
	for _, keys := range []int{1024, 65536} {
		b.Run("keys="+strconv.Itoa(keys), func(b *testing.B) { benchmarkLoad(b, keys) })
	}
}

func benchmarkLoad(b *testing.B, keys int) {
	m := New[uint64, uint64](0)
	for i := range uint64(keys) {
		m.Store(i*0x1000, i)
	}
	mask := uint64(keys - 1)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		var i uint64
		for pb.Next() {
			i = i*0x9e3779b97f4a7c15 + 1
			k := i >> 40 & mask
			if v, ok := m.Load(k * 0x1000); !ok || v != k {
				b.Fatalf("Load(%#x) = %d, %v", k*0x1000, v, ok)
			}
		}
	})
}

// TestBenchmarkLoadTimesOnlyLookups runs BenchmarkLoad's body once: Load
// never allocates, so any allocation in the timed part means the benchmark
// is timing the map fill (65536 stores) as well.
func TestBenchmarkLoadTimesOnlyLookups(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a benchmark for about a second")
	}
	r := testing.Benchmark(func(b *testing.B) { benchmarkLoad(b, 65536) })
	if r.N == 0 {
		t.Fatal("the benchmark did not run")
	}
	// RunParallel's goroutines cost a few allocations; filling the map
	// costs about 200,000.
	if r.MemAllocs > 1000 {
		t.Errorf("BenchmarkLoad's timed part allocated %d times (%d bytes) over %d lookups: it times more than Load", r.MemAllocs, r.MemBytes, r.N)
	}
}

func BenchmarkStoreExisting(b *testing.B) {
	m := New[uint64, uint64](0)
	for i := range uint64(1024) {
		m.Store(i, i)
	}
	b.ReportAllocs()
	var i uint64
	for b.Loop() {
		m.Store(i&1023, i)
		i++
	}
}

func BenchmarkStoreGrow(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		m := New[uint64, uint64](0)
		for i := range uint64(1024) {
			m.Store(i, i)
		}
	}
}
