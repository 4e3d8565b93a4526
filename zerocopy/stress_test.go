//go:build linux

package zerocopy

import (
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
)

// lease is one acquisition shared by several holders through channels.
type lease struct {
	h        Handle
	token    uint64
	holders  int32
	left     *atomic.Int32 // holders yet to release (test bookkeeping)
	released *atomic.Int32 // pool Releases that have returned
}

// TestStressOwnership hammers a small pool from many goroutines. Each
// Acquire claims its buffer in a shadow owner table and stamps a unique
// token into both ends of it; holders (the acquirer and those it hands
// Retained copies to over a channel) check the stamp before releasing. A
// buffer handed out while still held would fail the claim or the stamp. A
// vandal goroutine replays every fully released handle (Retain, Release,
// Bytes) and each replay must fail without disturbing live owners. Run with
// -race.
func TestStressOwnership(t *testing.T) {
	const (
		count   = 8
		size    = 512
		workers = 8
	)
	iters := 20000
	if testing.Short() {
		iters = 2000
	}
	p := newPool(t, Config{Count: count, Size: size, Align: 512})
	owners := make([]atomic.Uint64, count)
	var nextToken atomic.Uint64
	shared := make(chan lease, 4*count)
	graveyard := make(chan Handle, 64)

	var failed atomic.Bool
	fail := func(format string, args ...any) {
		failed.Store(true)
		t.Errorf(format, args...)
	}

	hold := func(l lease) {
		b, err := p.Bytes(l.h)
		if err != nil {
			fail("holder of token %d: Bytes: %v", l.token, err)
			return
		}
		if a, z := binary.LittleEndian.Uint64(b), binary.LittleEndian.Uint64(b[size-8:]); a != l.token || z != l.token {
			fail("buffer %d: token %d/%d, want %d: someone else owns it", l.h.Index(), a, z, l.token)
		}
		if l.left.Add(-1) == 0 {
			if !owners[l.h.Index()].CompareAndSwap(l.token, 0) {
				fail("buffer %d: owner table says %d, want %d", l.h.Index(), owners[l.h.Index()].Load(), l.token)
			}
		}
		if err := p.Release(l.h); err != nil {
			fail("Release of a held reference: %v", err)
		}
		if l.released.Add(1) == l.holders {
			select {
			case graveyard <- l.h:
			default:
			}
		}
	}

	var vandalErrs atomic.Uint64
	vandalDone := make(chan struct{})
	go func() {
		defer close(vandalDone)
		for h := range graveyard {
			if err := p.Retain(h); err == nil {
				fail("Retain of dead handle %+v succeeded", h)
				p.Release(h)
			} else {
				vandalErrs.Add(1)
			}
			if err := p.Release(h); err == nil {
				fail("Release of dead handle %+v succeeded", h)
			} else {
				vandalErrs.Add(1)
			}
			if _, err := p.Bytes(h); err == nil {
				fail("Bytes of dead handle %+v succeeded", h)
			} else {
				vandalErrs.Add(1)
			}
		}
	}()

	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 42))
			for i := 0; i < iters && !failed.Load(); i++ {
				// Serve someone else's shared reference now and then.
				select {
				case l := <-shared:
					hold(l)
				default:
				}
				h, err := p.Acquire()
				if errors.Is(err, ErrExhausted) {
					select {
					case l := <-shared:
						hold(l)
					default:
						runtime.Gosched()
					}
					continue
				}
				if err != nil {
					fail("Acquire: %v", err)
					return
				}
				token := nextToken.Add(1)
				if !owners[h.Index()].CompareAndSwap(0, token) {
					fail("buffer %d handed out while token %d still holds it", h.Index(), owners[h.Index()].Load())
					return
				}
				b, _ := p.Bytes(h)
				binary.LittleEndian.PutUint64(b, token)
				binary.LittleEndian.PutUint64(b[size-8:], token)

				extra := rng.IntN(3)
				l := lease{h: h, token: token, holders: int32(1 + extra), left: new(atomic.Int32), released: new(atomic.Int32)}
				l.left.Store(l.holders)
				for range extra {
					if err := p.Retain(h); err != nil {
						fail("Retain of live handle: %v", err)
						return
					}
				}
				for range extra {
					select {
					case shared <- l:
					default:
						hold(l) // channel full: play that holder ourselves
					}
				}
				hold(l)
			}
		}()
	}
	wg.Wait()
	for drained := false; !drained; {
		select {
		case l := <-shared:
			hold(l)
		default:
			drained = true
		}
	}
	close(graveyard)
	<-vandalDone

	st := p.Stats()
	if st.InUse != 0 {
		t.Fatalf("InUse = %d after every holder released", st.InUse)
	}
	if got := st.StaleHandle + st.DoubleRelease; got != vandalErrs.Load() {
		t.Fatalf("stats count %d misuse errors (stale %d, double %d), vandal saw %d", got, st.StaleHandle, st.DoubleRelease, vandalErrs.Load())
	}
	if vandalErrs.Load() == 0 {
		t.Fatal("the vandal never ran: the test checked nothing about stale handles")
	}
	t.Logf("%d acquisitions, %d exhausted, %d stale-handle replays rejected", nextToken.Load(), st.Exhausted, vandalErrs.Load())
	// Every buffer is back on the free list exactly once: Close proves it.
	if err := p.Close(); err != nil {
		t.Fatalf("Close after the stress run: %v", err)
	}
}

// TestStressFreeList drives the Treiber stack alone: every index popped is
// exclusively owned until pushed back, and none is lost or duplicated.
func TestStressFreeList(t *testing.T) {
	const n = 4
	var f freeList
	f.init(n)
	owned := make([]atomic.Int32, n)
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 20000 {
				i, ok := f.pop()
				if !ok {
					runtime.Gosched()
					continue
				}
				if owned[i].Add(1) != 1 {
					t.Errorf("index %d popped twice", i)
					return
				}
				owned[i].Add(-1)
				f.push(i)
			}
		}()
	}
	wg.Wait()
	seen := map[uint32]bool{}
	for {
		i, ok := f.pop()
		if !ok {
			break
		}
		if seen[i] {
			t.Fatalf("index %d on the free list twice", i)
		}
		seen[i] = true
	}
	if len(seen) != n {
		t.Fatalf("free list holds %d indices after the run, want %d", len(seen), n)
	}
}
