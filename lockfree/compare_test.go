package lockfree_test

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/puzpuzpuz/xsync/v4"

	"vmm/lockfree"
)

// device stands in for what the bus maps an address to.
type device struct{ id uint64 }

// workload is the shared part of every run: the keys (spread-out bus
// addresses), their values, and the share of operations that are reads.
type workload struct {
	addrs []uint64
	devs  []*device
	mask  uint64
	reads uint64
}

// next picks a key index with a cheap PCG (the same cost for every map) and
// says whether this operation is a write (one in 100 for reads=99).
func (w *workload) next(rng *rand.PCG) (i uint64, write bool) {
	r := rng.Uint64()
	return r & w.mask, w.reads < 100 && (r>>32)%100 >= w.reads
}

// loop counts iterations: n of them for one goroutine, or as many as pb
// hands out under b.RunParallel.
type loop struct {
	n  int
	pb *testing.PB
}

func (l *loop) more() bool {
	if l.pb != nil {
		return l.pb.Next()
	}
	l.n--
	return l.n >= 0
}

// Each map gets its own loop with direct (inlinable) calls, so interface
// dispatch does not blur the comparison. A Load must find the key, with
// the right value, or the benchmark fails.

func runLockfree(b *testing.B, w *workload, m *lockfree.Map[uint64, *device], rng *rand.PCG, l loop) {
	for l.more() {
		i, write := w.next(rng)
		if write {
			m.Store(w.addrs[i], w.devs[i])
		} else if d, ok := m.Load(w.addrs[i]); !ok || d.id != i {
			b.Fatalf("Load(%#x) = %v, %v", w.addrs[i], d, ok)
		}
	}
}

func runXsync(b *testing.B, w *workload, m *xsync.Map[uint64, *device], rng *rand.PCG, l loop) {
	for l.more() {
		i, write := w.next(rng)
		if write {
			m.Store(w.addrs[i], w.devs[i])
		} else if d, ok := m.Load(w.addrs[i]); !ok || d.id != i {
			b.Fatalf("Load(%#x) = %v, %v", w.addrs[i], d, ok)
		}
	}
}

func runSyncMap(b *testing.B, w *workload, m *sync.Map, rng *rand.PCG, l loop) {
	for l.more() {
		i, write := w.next(rng)
		if write {
			m.Store(w.addrs[i], w.devs[i])
		} else if d, ok := m.Load(w.addrs[i]); !ok || d.(*device).id != i {
			b.Fatalf("Load(%#x) = %v, %v", w.addrs[i], d, ok)
		}
	}
}

// rwMap is the baseline: a plain map behind a reader/writer lock.
type rwMap struct {
	mu sync.RWMutex
	m  map[uint64]*device
}

func runRWMutex(b *testing.B, w *workload, m *rwMap, rng *rand.PCG, l loop) {
	for l.more() {
		i, write := w.next(rng)
		if write {
			m.mu.Lock()
			m.m[w.addrs[i]] = w.devs[i]
			m.mu.Unlock()
			continue
		}
		m.mu.RLock()
		d, ok := m.m[w.addrs[i]]
		m.mu.RUnlock()
		if !ok || d.id != i {
			b.Fatalf("Load(%#x) = %v, %v", w.addrs[i], d, ok)
		}
	}
}

// runner fills a fresh map of one kind with w's keys and returns its loop.
type runner func(b *testing.B, w *workload) func(rng *rand.PCG, l loop)

var maps = []struct {
	name string
	make runner
}{
	{"lockfree", func(b *testing.B, w *workload) func(*rand.PCG, loop) {
		m := lockfree.New[uint64, *device](0)
		for i, a := range w.addrs {
			m.Store(a, w.devs[i])
		}
		return func(rng *rand.PCG, l loop) { runLockfree(b, w, m, rng, l) }
	}},
	{"xsync", func(b *testing.B, w *workload) func(*rand.PCG, loop) {
		m := xsync.NewMap[uint64, *device]()
		for i, a := range w.addrs {
			m.Store(a, w.devs[i])
		}
		return func(rng *rand.PCG, l loop) { runXsync(b, w, m, rng, l) }
	}},
	{"syncmap", func(b *testing.B, w *workload) func(*rand.PCG, loop) {
		m := &sync.Map{}
		for i, a := range w.addrs {
			m.Store(a, w.devs[i])
		}
		return func(rng *rand.PCG, l loop) { runSyncMap(b, w, m, rng, l) }
	}},
	{"rwmutex", func(b *testing.B, w *workload) func(*rand.PCG, loop) {
		m := &rwMap{m: map[uint64]*device{}}
		for i, a := range w.addrs {
			m.m[a] = w.devs[i]
		}
		return func(rng *rand.PCG, l loop) { runRWMutex(b, w, m, rng, l) }
	}},
}

// BenchmarkMaps measures one operation per iteration: a Load of a present
// key or, in the reads=99 workload one time in 100, a Store overwriting a
// present key (a device changing state). g=1 is one goroutine; g=P runs
// GOMAXPROCS goroutines with b.RunParallel. The maps start empty (no size
// hint), so each has grown to its working size the way it would in use.
func BenchmarkMaps(b *testing.B) {
	for _, keys := range []int{1024, 65536} {
		w := &workload{addrs: make([]uint64, keys), devs: make([]*device, keys), mask: uint64(keys - 1)}
		for i := range w.addrs {
			w.addrs[i] = 0xd000_0000 + uint64(i)*0x1000
			w.devs[i] = &device{id: uint64(i)}
		}
		for _, reads := range []uint64{100, 99} {
			for _, par := range []string{"1", "P"} {
				for _, mp := range maps {
					name := fmt.Sprintf("keys=%d/reads=%d/g=%s/map=%s", keys, reads, par, mp.name)
					b.Run(name, func(b *testing.B) {
						w := *w
						w.reads = reads
						run := mp.make(b, &w)
						b.ReportAllocs()
						b.ResetTimer()
						if par == "1" {
							run(rand.NewPCG(1, 2), loop{n: b.N})
							return
						}
						var seed atomic.Uint64
						b.RunParallel(func(pb *testing.PB) {
							run(rand.NewPCG(seed.Add(1), 7), loop{pb: pb})
						})
					})
				}
			}
		}
	}
}
