package lockfree

import (
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
)

// These tests are sized to finish in a few seconds under -race on two cores.
// Their pass/fail depends only on what readers observe, never on timing.

// record is a value big enough (three words) that a torn read would show.
type record struct {
	key, version, sum uint64
}

func newRecord(key, version uint64) record {
	return record{key: key, version: version, sum: checksum(key, version)}
}

func checksum(key, version uint64) uint64 {
	return (key*0x9e3779b97f4a7c15 ^ version) * 0xff51afd7ed558ccd
}

// lastOp is what the owning writer last completed on a key: the version it
// stored or deleted at, and whether it was a delete. Packed in one word so a
// reader can snapshot it atomically.
func packOp(version uint64, deleted bool) uint64 {
	if deleted {
		return version<<1 | 1
	}
	return version << 1
}

// TestStressLinearizable runs writers that each own a share of the keys
// (storing ever higher versions, sometimes deleting and re-storing) against
// readers. The map starts tiny, so it grows several times mid-run. Readers
// check that a value is never torn, never older than a write that finished
// before the read began (so a deleted key never comes back with an old
// version), never older than what the same reader saw before, and that a key
// no writer touched during the read is never missing.
func TestStressLinearizable(t *testing.T) {
	const (
		keys       = 2048
		writers    = 2
		readers    = 4
		opsPerKey  = 12
		readRounds = 40
	)
	m := New[uint64, record](0)
	// started[k] is set before each write of k, last[k] after it, so a
	// reader can tell which writes finished before its read and whether any
	// began before it ended.
	var started, last [keys]atomic.Uint64
	var stop atomic.Bool
	var wg sync.WaitGroup
	for w := range uint64(writers) {
		wg.Go(func() {
			for v := uint64(1); v <= opsPerKey; v++ {
				for k := w; k < keys; k += writers {
					started[k].Store(v)
					if v%5 == 0 {
						m.Delete(k)
						last[k].Store(packOp(v, true))
						continue
					}
					switch v % 3 {
					case 0:
						m.Store(k, newRecord(k, v))
					case 1:
						m.Swap(k, newRecord(k, v))
					default:
						if old, ok := m.Load(k); ok {
							if !CompareAndSwap(m, k, old, newRecord(k, v)) {
								t.Errorf("key %d: CompareAndSwap by its only writer failed", k)
							}
						} else {
							m.LoadOrStore(k, newRecord(k, v))
						}
					}
					last[k].Store(packOp(v, false))
				}
				runtime.Gosched()
			}
		})
	}
	var readerWG sync.WaitGroup
	for r := range readers {
		readerWG.Go(func() {
			var seen [keys]uint64
			for round := 0; round < readRounds || !stop.Load(); round++ {
				for i := range uint64(keys) {
					k := (i*7 + uint64(r)*131) % keys
					before := last[k].Load()
					rec, ok := m.Load(k)
					begun := started[k].Load()
					bv, bdel := before>>1, before&1 == 1
					if !ok {
						if !bdel && bv != 0 && begun == bv {
							t.Errorf("key %d missing while present throughout at version %d", k, bv)
							return
						}
						continue
					}
					if rec.key != k || rec.sum != checksum(rec.key, rec.version) {
						t.Errorf("key %d: torn value %+v", k, rec)
						return
					}
					if rec.version > begun {
						t.Errorf("key %d: read version %d before any writer began it (latest begun %d)", k, rec.version, begun)
						return
					}
					if rec.version < bv || (bdel && rec.version == bv) {
						t.Errorf("key %d: read version %d, but %d (deleted=%v) finished before the read", k, rec.version, bv, bdel)
						return
					}
					if rec.version < seen[k] {
						t.Errorf("key %d: version went back from %d to %d", k, seen[k], rec.version)
						return
					}
					seen[k] = rec.version
				}
				if t.Failed() {
					return
				}
			}
		})
	}
	wg.Wait()
	stop.Store(true)
	readerWG.Wait()
	if grew := len(m.root.Load().slots); grew <= minSlots {
		t.Fatalf("map never grew (%d slots): the test did not exercise growth", grew)
	}
	// Final state equals the writers' last operations.
	n := 0
	for k := range uint64(keys) {
		op := last[k].Load()
		rec, ok := m.Load(k)
		if op&1 == 1 {
			if ok {
				t.Fatalf("key %d present after its final delete", k)
			}
			continue
		}
		n++
		if !ok || rec != newRecord(k, op>>1) {
			t.Fatalf("key %d = %+v, %v; want version %d", k, rec, ok, op>>1)
		}
	}
	if m.Len() != n {
		t.Fatalf("Len = %d, want %d", m.Len(), n)
	}
}

// TestGrowthUnderReads keeps a fixed set of keys in the map while a writer
// adds enough others to double the table several times; readers must find
// every fixed key, with its value, on every single lookup.
func TestGrowthUnderReads(t *testing.T) {
	const stable = 256
	m := New[uint64, record](0)
	for k := range uint64(stable) {
		m.Store(k, newRecord(k, 1))
	}
	var done atomic.Bool
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() {
			for !done.Load() {
				for k := range uint64(stable) {
					rec, ok := m.Load(k)
					if !ok || rec != newRecord(k, 1) {
						t.Errorf("stable key %d = %+v, %v during growth", k, rec, ok)
						return
					}
				}
			}
		})
	}
	start := len(m.root.Load().slots)
	for k := uint64(stable); k < 40000; k++ {
		m.Store(k, newRecord(k, 1))
	}
	done.Store(true)
	wg.Wait()
	if end := len(m.root.Load().slots); end < 8*start {
		t.Fatalf("table went from %d to %d slots: want several doublings", start, end)
	}
}

// TestRangeSeesStableKeys ranges while writers churn other keys (forcing
// growth): every key present throughout must be visited exactly once, and
// no key may be visited twice.
func TestRangeSeesStableKeys(t *testing.T) {
	const stable = 500
	m := New[uint64, uint64](0)
	for k := range uint64(stable) {
		m.Store(k, k)
	}
	var done atomic.Bool
	var wg sync.WaitGroup
	for w := range uint64(2) {
		wg.Go(func() {
			base := uint64(1_000_000) * (w + 1)
			for i := uint64(0); i < 30000; i++ {
				m.Store(base+i, i)
				if i%3 == 0 {
					m.Delete(base + i/2)
				}
			}
		})
	}
	var rangers sync.WaitGroup
	rangers.Go(func() {
		for rounds := 0; rounds < 5 || !done.Load(); rounds++ {
			seen := make(map[uint64]bool, stable*4)
			m.Range(func(k, v uint64) bool {
				if seen[k] {
					t.Errorf("Range visited key %d twice", k)
					return false
				}
				seen[k] = true
				if k < stable && v != k {
					t.Errorf("Range gave stable key %d value %d", k, v)
				}
				return true
			})
			for k := range uint64(stable) {
				if !seen[k] {
					t.Errorf("Range missed stable key %d", k)
					return
				}
			}
			if t.Failed() {
				return
			}
		}
	})
	wg.Wait()
	done.Store(true)
	rangers.Wait()
}

// TestConcurrentCounters has goroutines increment shared counters with
// CompareAndSwap retries: no increment may be lost, so writers' CAS on a
// bucket must never overwrite another writer's change.
func TestConcurrentCounters(t *testing.T) {
	const (
		counters = 64
		workers  = 4
		incs     = 2000
	)
	m := New[int, int](0)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range incs {
				k := (i*workers + w) % counters
				for {
					old, ok := m.Load(k)
					if !ok {
						if _, loaded := m.LoadOrStore(k, 1); !loaded {
							break
						}
						continue
					}
					if CompareAndSwap(m, k, old, old+1) {
						break
					}
				}
			}
		})
	}
	wg.Wait()
	total := 0
	m.Range(func(_, v int) bool { total += v; return true })
	if total != workers*incs {
		t.Fatalf("counters sum to %d, want %d: increments were lost", total, workers*incs)
	}
	if m.Len() != counters {
		t.Fatalf("Len = %d, want %d", m.Len(), counters)
	}
}

// TestConcurrentInsertDeleteLen races inserters and deleters on disjoint
// keys, with growth, then checks contents and Len agree exactly.
func TestConcurrentInsertDeleteLen(t *testing.T) {
	m := New[int, int](0)
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 5000 {
				k := i*4 + w
				m.Store(k, k)
				if i%2 == 1 {
					m.Delete(k - 4)
				}
			}
		})
	}
	wg.Wait()
	n := 0
	for k := range 20000 {
		_, ok := m.Load(k)
		i := k / 4
		want := i%2 == 1 || i == 4999 // odd i survive; even i deleted by i+1
		if ok != want {
			t.Fatalf("key %d present=%v, want %v", k, ok, want)
		}
		if ok {
			n++
		}
	}
	if m.Len() != n {
		t.Fatalf("Len = %d, want %d", m.Len(), n)
	}
}

// TestZeroMapConcurrentFirstUse races the lazy creation of a zero Map's
// table: every goroutine's stores must land in the one table that wins.
func TestZeroMapConcurrentFirstUse(t *testing.T) {
	for round := range 50 {
		var m Map[int, int]
		var wg sync.WaitGroup
		for w := range 4 {
			wg.Go(func() { m.Store(w, w) })
		}
		wg.Wait()
		for w := range 4 {
			if v, ok := m.Load(w); !ok || v != w {
				t.Fatalf("round %d: Load(%d) = %d, %v after concurrent first stores", round, w, v, ok)
			}
		}
	}
}
