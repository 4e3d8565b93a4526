//go:build linux

package zerocopy

import (
	"errors"
	"os"
	"strings"
	"testing"
)

func newPool(t testing.TB, cfg Config) *Pool {
	t.Helper()
	p, err := New(cfg)
	if err != nil {
		t.Fatalf("New(%+v): %v", cfg, err)
	}
	t.Cleanup(func() {
		if err := p.Close(); err != nil && !errors.Is(err, ErrClosed) {
			t.Errorf("Close: %v", err)
		}
	})
	return p
}

func TestConfigValidation(t *testing.T) {
	page := os.Getpagesize()
	tests := []struct {
		name string
		cfg  Config
		want string // substring naming the bad field; "" means valid
	}{
		{"valid 512", Config{Count: 4, Size: 512, Align: 512}, ""},
		{"valid page", Config{Count: 1, Size: 3 * page, Align: page}, ""},
		{"zero count", Config{Count: 0, Size: 4096, Align: 4096}, "Count 0"},
		{"negative count", Config{Count: -1, Size: 4096, Align: 4096}, "Count -1"},
		{"count too big", Config{Count: MaxCount + 1, Size: 512, Align: 512}, "Count"},
		{"zero align", Config{Count: 1, Size: 4096, Align: 0}, "Align 0"},
		{"align not power of two", Config{Count: 1, Size: 3072, Align: 768}, "Align 768"},
		{"align below sector", Config{Count: 1, Size: 256, Align: 256}, "Align 256"},
		{"align above page", Config{Count: 1, Size: 2 * page, Align: 2 * page}, "Align"},
		{"zero size", Config{Count: 1, Size: 0, Align: 512}, "Size 0"},
		{"size not multiple", Config{Count: 1, Size: 1000, Align: 512}, "round it up to 1024"},
		{"arena too big", Config{Count: MaxCount, Size: 1 << 20, Align: 4096}, "overflows"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := New(tc.cfg)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("New(%+v) = %v, want success", tc.cfg, err)
				}
				if err := p.Close(); err != nil {
					t.Fatalf("Close: %v", err)
				}
				return
			}
			if err == nil {
				p.Close()
				t.Fatalf("New(%+v) succeeded, want error mentioning %q", tc.cfg, tc.want)
			}
			if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New(%+v) = %q, want ErrInvalidConfig mentioning %q", tc.cfg, err, tc.want)
			}
		})
	}
}

func TestLifecycle(t *testing.T) {
	p := newPool(t, Config{Count: 2, Size: 4096, Align: 4096})

	h, err := p.Acquire()
	if err != nil {
		t.Fatal(err)
	}
	if h.IsZero() || h.Generation() == 0 {
		t.Fatalf("Acquire returned zero-like handle %+v", h)
	}
	if n, err := p.Refs(h); n != 1 || err != nil {
		t.Fatalf("Refs after Acquire = %d, %v; want 1", n, err)
	}
	if err := p.Retain(h); err != nil {
		t.Fatal(err)
	}
	if n, _ := p.Refs(h); n != 2 {
		t.Fatalf("Refs after Retain = %d, want 2", n)
	}
	b, err := p.Bytes(h)
	if err != nil || len(b) != 4096 || cap(b) != 4096 {
		t.Fatalf("Bytes = len %d cap %d, %v; want 4096/4096", len(b), cap(b), err)
	}
	if err := p.Release(h); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Bytes(h); err != nil {
		t.Fatalf("Bytes with one reference left: %v", err)
	}
	if err := p.Release(h); err != nil {
		t.Fatal(err)
	}

	// Every use of the old handle is now rejected and counted.
	if err := p.Release(h); !errors.Is(err, ErrDoubleRelease) {
		t.Fatalf("second final Release = %v, want ErrDoubleRelease", err)
	}
	if err := p.Retain(h); !errors.Is(err, ErrStaleHandle) {
		t.Fatalf("Retain after release = %v, want ErrStaleHandle", err)
	}
	if _, err := p.Bytes(h); !errors.Is(err, ErrStaleHandle) {
		t.Fatalf("Bytes after release = %v, want ErrStaleHandle", err)
	}
	if _, err := p.Addr(h); !errors.Is(err, ErrStaleHandle) {
		t.Fatalf("Addr after release = %v, want ErrStaleHandle", err)
	}
	if _, err := p.Refs(h); !errors.Is(err, ErrStaleHandle) {
		t.Fatalf("Refs after release = %v, want ErrStaleHandle", err)
	}

	// The buffer comes back under a new generation; the old handle stays dead.
	h2, err := p.Acquire()
	if err != nil {
		t.Fatal(err)
	}
	if h2.Index() != h.Index() || h2.Generation() == h.Generation() || h2 == h {
		t.Fatalf("reacquired %+v (index %d gen %d), old %+v: want same index, new generation", h2, h2.Index(), h2.Generation(), h)
	}
	if err := p.Release(h); !errors.Is(err, ErrDoubleRelease) {
		t.Fatalf("Release of old generation while reused = %v, want ErrDoubleRelease", err)
	}
	if n, err := p.Refs(h2); n != 1 || err != nil {
		t.Fatalf("old-handle Release touched the new owner: Refs = %d, %v", n, err)
	}
	if err := p.Release(h2); err != nil {
		t.Fatal(err)
	}
	if err := p.Release(h); !errors.Is(err, ErrStaleHandle) {
		t.Fatalf("Release two generations old = %v, want ErrStaleHandle", err)
	}

	for _, bad := range []Handle{{}, makeHandle(2, 1), makeHandle(MaxCount, 5)} {
		if err := p.Release(bad); !errors.Is(err, ErrInvalidHandle) {
			t.Fatalf("Release(%+v) = %v, want ErrInvalidHandle", bad, err)
		}
	}
	// A never-issued generation of a real index.
	if err := p.Retain(makeHandle(1, 1)); !errors.Is(err, ErrStaleHandle) {
		t.Fatalf("Retain of never-acquired buffer = %v, want ErrStaleHandle", err)
	}

	st := p.Stats()
	want := Stats{Count: 2, Size: 4096, Align: 4096, InUse: 0,
		StaleHandle: 6, DoubleRelease: 2, InvalidHandle: 3}
	if st != want {
		t.Fatalf("Stats = %+v\nwant    %+v", st, want)
	}
}

func TestExhausted(t *testing.T) {
	p := newPool(t, Config{Count: 3, Size: 512, Align: 512})
	seen := map[int]bool{}
	var hs []Handle
	for range 3 {
		h, err := p.Acquire()
		if err != nil {
			t.Fatal(err)
		}
		if seen[h.Index()] {
			t.Fatalf("index %d handed out twice", h.Index())
		}
		seen[h.Index()] = true
		hs = append(hs, h)
	}
	for range 2 {
		if h, err := p.Acquire(); !errors.Is(err, ErrExhausted) || !h.IsZero() {
			t.Fatalf("Acquire on full pool = %+v, %v; want zero handle, ErrExhausted", h, err)
		}
	}
	if st := p.Stats(); st.Exhausted != 2 || st.InUse != 3 {
		t.Fatalf("Stats = %+v, want Exhausted 2 InUse 3", st)
	}
	if err := p.Release(hs[1]); err != nil {
		t.Fatal(err)
	}
	h, err := p.Acquire()
	if err != nil || h.Index() != hs[1].Index() {
		t.Fatalf("Acquire after one Release = %+v, %v; want index %d", h, err, hs[1].Index())
	}
	for _, h := range []Handle{hs[0], h, hs[2]} {
		if err := p.Release(h); err != nil {
			t.Fatal(err)
		}
	}
}

func TestAddressesAndAlignment(t *testing.T) {
	for _, align := range []int{512, 4096} {
		p := newPool(t, Config{Count: 5, Size: 3 * align, Align: align})
		base := p.ArenaBase()
		if base == 0 || base%uintptr(os.Getpagesize()) != 0 {
			t.Fatalf("arena base %#x not page aligned", base)
		}
		if p.ArenaLen() != 5*3*align {
			t.Fatalf("ArenaLen = %d, want %d", p.ArenaLen(), 5*3*align)
		}
		iov := p.Iovecs()
		var held []Handle
		defer func() {
			for _, h := range held {
				p.Release(h)
			}
		}()
		if len(iov) != 5 {
			t.Fatalf("Iovecs len %d, want 5", len(iov))
		}
		for i := range 5 {
			h, err := p.Acquire()
			if err != nil {
				t.Fatal(err)
			}
			held = append(held, h)
			a, err := p.Addr(h)
			if err != nil {
				t.Fatal(err)
			}
			ba, err := p.BufferAddr(h.Index())
			if err != nil || ba != a {
				t.Fatalf("BufferAddr(%d) = %#x, %v; Addr = %#x", h.Index(), ba, err, a)
			}
			if a%uintptr(align) != 0 || a != base+uintptr(h.Index()*3*align) {
				t.Fatalf("buffer %d at %#x: want base %#x + %d, aligned to %d", i, a, base, h.Index()*3*align, align)
			}
			b, _ := p.Bytes(h)
			if iov[h.Index()].Base != &b[0] || iov[h.Index()].Len != uint64(3*align) {
				t.Fatalf("iovec %d = {%p, %d}, buffer at %p len %d", h.Index(), iov[h.Index()].Base, iov[h.Index()].Len, &b[0], len(b))
			}
		}
		if _, err := p.BufferAddr(5); err == nil {
			t.Fatal("BufferAddr(5) on a 5-buffer pool succeeded")
		}
		if _, err := p.BufferAddr(-1); err == nil {
			t.Fatal("BufferAddr(-1) succeeded")
		}
	}
}

func TestClose(t *testing.T) {
	p, err := New(Config{Count: 2, Size: 4096, Align: 4096})
	if err != nil {
		t.Fatal(err)
	}
	h, _ := p.Acquire()
	if err := p.Close(); !errors.Is(err, ErrBusy) || !strings.Contains(err.Error(), "1 of 2 held") {
		t.Fatalf("Close with a held buffer = %v, want ErrBusy (1 of 2 held)", err)
	}
	// The refused Close left the pool fully usable: both buffers still come out.
	h2, err := p.Acquire()
	if err != nil {
		t.Fatalf("Acquire after refused Close: %v", err)
	}
	if b, err := p.Bytes(h); err != nil || len(b) != 4096 {
		t.Fatalf("Bytes after refused Close: %v", err)
	}
	p.Release(h)
	p.Release(h2)
	if err := p.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := p.Close(); !errors.Is(err, ErrClosed) {
		t.Fatalf("second Close = %v, want ErrClosed", err)
	}
	if _, err := p.Acquire(); !errors.Is(err, ErrClosed) {
		t.Fatalf("Acquire after Close = %v", err)
	}
	if err := p.Retain(h); !errors.Is(err, ErrClosed) {
		t.Fatalf("Retain after Close = %v", err)
	}
	if err := p.Release(h); !errors.Is(err, ErrClosed) {
		t.Fatalf("Release after Close = %v", err)
	}
	if _, err := p.Bytes(h); !errors.Is(err, ErrClosed) {
		t.Fatalf("Bytes after Close = %v", err)
	}
	if _, err := p.Addr(h); !errors.Is(err, ErrClosed) {
		t.Fatalf("Addr after Close = %v", err)
	}
	if _, err := p.BufferAddr(0); !errors.Is(err, ErrClosed) {
		t.Fatalf("BufferAddr after Close = %v", err)
	}
	if p.ArenaBase() != 0 || p.ArenaLen() != 0 || p.Iovecs() != nil {
		t.Fatal("arena still advertised after Close")
	}
	if st := p.Stats(); st.Closed != 5 {
		t.Fatalf("Stats.Closed = %d, want 5", st.Closed)
	}
}

// The hot path must not allocate: the block device calls it per request.
func TestHotPathAllocs(t *testing.T) {
	p := newPool(t, Config{Count: 4, Size: 4096, Align: 4096})
	allocs := testing.AllocsPerRun(1000, func() {
		h, err := p.Acquire()
		if err != nil {
			t.Fatal(err)
		}
		p.Retain(h)
		p.Bytes(h)
		p.Addr(h)
		p.Release(h)
		p.Release(h)
		p.Release(h) // error path: sentinel, no allocation either
		p.Bytes(h)
	})
	if allocs != 0 {
		t.Fatalf("hot path allocates %v times per iteration, want 0", allocs)
	}
	// Exhaustion error path too.
	var hs []Handle
	for range 4 {
		h, _ := p.Acquire()
		hs = append(hs, h)
	}
	if a := testing.AllocsPerRun(100, func() { p.Acquire() }); a != 0 {
		t.Fatalf("ErrExhausted path allocates %v", a)
	}
	for _, h := range hs {
		p.Release(h)
	}
}

func TestGenerationWrap(t *testing.T) {
	if got := nextGen(genMask); got != 1 {
		t.Fatalf("nextGen(max) = %d, want 1 (0 is reserved for the zero Handle)", got)
	}
	if got := prevGen(1); got != genMask {
		t.Fatalf("prevGen(1) = %d, want %d", got, genMask)
	}
	// Drive one buffer across the wrap and check handles still behave.
	p := newPool(t, Config{Count: 1, Size: 512, Align: 512})
	p.states[0].Store(packState(genMask, 0))
	h, err := p.Acquire()
	if err != nil || h.Generation() != genMask {
		t.Fatalf("Acquire = %+v, %v; want generation %d", h, err, uint64(genMask))
	}
	p.Release(h)
	h2, _ := p.Acquire()
	if h2.Generation() != 1 {
		t.Fatalf("generation after wrap = %d, want 1", h2.Generation())
	}
	if err := p.Release(h); !errors.Is(err, ErrDoubleRelease) {
		t.Fatalf("old handle across the wrap: %v, want ErrDoubleRelease", err)
	}
	if err := p.Release(h2); err != nil {
		t.Fatal(err)
	}
}
