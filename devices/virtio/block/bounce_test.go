package block

import (
	"errors"
	"math/rand/v2"
	"slices"
	"testing"

	"vmm/zerocopy"
)

// poolOf is the bounce pool of a backend on an O_DIRECT file.
func poolOf(t *testing.T, b Backend) *zerocopy.Pool {
	t.Helper()
	switch x := b.(type) {
	case *Uring:
		return x.bounce.pool
	case *Sync:
		return x.bounce.pool
	}
	t.Fatalf("no bounce pool in %T", b)
	return nil
}

// checkPoolIdle fails unless every bounce buffer is back and none was
// released twice or through a stale handle.
func checkPoolIdle(t *testing.T, p *zerocopy.Pool) {
	t.Helper()
	st := p.Stats()
	if st.InUse != 0 || st.DoubleRelease != 0 || st.StaleHandle != 0 || st.InvalidHandle != 0 {
		t.Fatalf("bounce pool after the requests: %+v", st)
	}
}

func randomData(n uint64) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rand.Uint32())
	}
	return b
}

// O_DIRECT requests with segments that break the alignment rules go
// through bounce buffers, whole; aligned ones go straight to guest RAM.
// Either way the data is right and every buffer comes back.
func TestDirectIO(t *testing.T) {
	cases := []struct {
		name    string
		align   uint64 // segment address alignment
		skew    uint64 // added to each segment address
		lens    []uint64
		bounced bool
	}{
		{"aligned", 4096, 0, []uint64{4096, 8192}, false},
		{"aligned to 512", 512, 0, []uint64{512, 1024}, false},
		{"address off by 8", 4096, 8, []uint64{4096}, true},
		{"segment lengths not sector multiples", 4096, 0, []uint64{100, 412, 4096}, true},
		{"one bad segment among good ones", 4096, 0, []uint64{4096, 4096, 4000, 96, 4096}, true},
		{"spanning three pool buffers", 4096, 4, []uint64{40000, 50000, 41584}, true},
		{"max misaligned length", 8, 1, slices.Repeat([]uint64{bounceBufferSize}, bounceBuffers), true},
	}
	forEachBackend(t, func(t *testing.T, k backendKind) {
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				e := newTestEnv(t, k, envConfig{direct: true})
				pool := poolOf(t, e.b)
				const off = 1 << 20
				out := e.segs(c.align, c.skew, c.lens...)
				data := randomData(rw(TypeOut, 0, out).Len)
				scatter(out, data)
				w := rw(TypeOut, off, out)
				if err := e.b.Start(0, w); err != nil {
					t.Fatal(err)
				}
				if _, ok := e.b.(*Uring); ok {
					want := 0
					if c.bounced {
						want = int((w.Len + bounceBufferSize - 1) / bounceBufferSize)
					}
					if got := pool.Stats().InUse; got != want {
						t.Fatalf("%d bounce buffers held in flight, want %d", got, want)
					}
				}
				if err := e.b.Submit(); err != nil {
					t.Fatal(err)
				}
				if got := e.waitN(1); got[0].Result != int32(w.Len) {
					t.Fatalf("OUT: result %d (%v)", got[0].Result, resultErr(got[0].Result))
				}
				eq(t, "file after OUT", e.fileAt(off, len(data)), data)
				checkPoolIdle(t, pool)

				in := e.segs(c.align, c.skew, c.lens...)
				wantResults(t, e.run(rw(TypeIn, off-512, in)), int32(w.Len))
				eq(t, "IN", gather(in), append(pattern(off-512, 512), data[:len(data)-512]...))
				checkPoolIdle(t, pool)
			})
		}
	})
}

// What O_DIRECT cannot do even through a bounce fails at Start, and so
// does a misaligned request longer than the whole pool.
func TestDirectIORefused(t *testing.T) {
	forEachBackend(t, func(t *testing.T, k backendKind) {
		// Stricter alignment than the file needs, so the rule is
		// exercised whatever the filesystem reports.
		e := newTestEnv(t, k, envConfig{direct: true, opts: Options{MemAlign: 4096, OffsetAlign: 4096}})
		bad := []struct {
			name string
			req  *Request
			want error
		}{
			{"offset not a multiple of OffsetAlign", rw(TypeIn, 512, e.segs(4096, 0, 4096)), errMisalignedDirect},
			{"length not a multiple of OffsetAlign", rw(TypeOut, 0, e.segs(4096, 0, 512)), errMisalignedDirect},
			{"misaligned and longer than the pool", rw(TypeIn, 0, e.segs(4096, 512, slices.Repeat([]uint64{bounceBufferSize}, bounceBuffers+1)...)), errBounceTooLong},
		}
		for _, b := range bad {
			if err := e.b.Start(0, b.req); !errors.Is(err, b.want) {
				t.Errorf("%s: Start = %v, want %v", b.name, err, b.want)
			}
		}
		checkPoolIdle(t, poolOf(t, e.b))
		// Aligned to 512 but not to MemAlign 4096: bounced, and fine.
		in := e.segs(4096, 512, 4096)
		wantResults(t, e.run(rw(TypeIn, 4096, in)), 4096)
		eq(t, "bounced IN", gather(in), pattern(4096, 4096))
		// A long aligned request, four times the pool: straight through.
		const long = 4 * bounceBuffers * bounceBufferSize
		big := e.segs(4096, 0, slices.Repeat([]uint64{MaxSegmentSize}, long/MaxSegmentSize)...)
		wantResults(t, e.run(rw(TypeIn, 0, big)), long)
		eq(t, "8 MiB IN", gather(big), pattern(0, long))
		checkPoolIdle(t, poolOf(t, e.b))
	})
}

// With the pool used up, Start says ErrBusy without holding any buffer,
// and succeeds once a completion gave buffers back. A bounced request that
// fails (here: a read past the end of the file) releases its buffers too.
func TestBounceBusyAndRecovery(t *testing.T) {
	e := newTestEnv(t, backendKinds[0], envConfig{direct: true})
	pool := poolOf(t, e.b)
	const half = bounceBuffers / 2 * bounceBufferSize // 16 buffers
	reqs := []*Request{
		rw(TypeIn, 0, e.segs(4096, 8, half)),
		rw(TypeIn, half, e.segs(4096, 8, half)),
		rw(TypeIn, 2*half, e.segs(4096, 8, 4096)),
	}
	for i := range 2 {
		if err := e.b.Start(uint64(i), reqs[i]); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.b.Start(2, reqs[2]); !errors.Is(err, ErrBusy) {
		t.Fatalf("Start with the pool used up: %v, want ErrBusy", err)
	}
	if st := pool.Stats(); st.InUse != bounceBuffers || e.b.InFlight() != 2 {
		t.Fatalf("after ErrBusy: %d buffers in use, %d in flight; want %d, 2", st.InUse, e.b.InFlight(), bounceBuffers)
	}
	if err := e.b.Submit(); err != nil {
		t.Fatal(err)
	}
	var got []Completion
	for len(got) == 0 {
		var err error
		if got, _, err = e.b.Wait(make([]Completion, 0, 1), true); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.b.Start(2, reqs[2]); err != nil {
		t.Fatalf("Start after a completion: %v", err)
	}
	if err := e.b.Submit(); err != nil {
		t.Fatal(err)
	}
	e.waitN(2)
	for _, r := range reqs {
		eq(t, "read", gather(r.Iov), pattern(int(r.Offset), int(r.Len)))
	}
	checkPoolIdle(t, pool)

	st, err := e.file.Stat()
	if err != nil {
		t.Fatal(err)
	}
	wantResults(t, e.run(rw(TypeIn, uint64(st.Size()), e.segs(4096, 8, 4096))), 0)
	checkPoolIdle(t, pool)
}
