package block

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The tests in this file run against both backends, on real files.

func TestReadWrite(t *testing.T) {
	cases := []struct {
		name string
		off  uint64
		lens []uint64
	}{
		{"one sector", 512, []uint64{512}},
		{"one page", 4096, []uint64{4096}},
		{"segments of odd sizes", 3 * 512, []uint64{100, 412, 4096, 1, 511}},
		{"max segment size", 1 << 20, []uint64{MaxSegmentSize, MaxSegmentSize}},
		{"many segments", 2 << 20, slices.Repeat([]uint64{512}, MaxSegments)},
	}
	forEachBackend(t, func(t *testing.T, k backendKind) {
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				e := newTestEnv(t, k, envConfig{})
				in := e.segs(8, 0, c.lens...)
				r := rw(TypeIn, c.off, in)
				wantResults(t, e.run(r), int32(r.Len))
				eq(t, "IN data", gather(in), pattern(int(c.off), int(r.Len)))

				out := e.segs(8, 0, c.lens...)
				data := make([]byte, r.Len)
				for i := range data {
					data[i] = byte(rand.Uint32())
				}
				scatter(out, data)
				w := rw(TypeOut, c.off, out)
				wantResults(t, e.run(w), int32(w.Len))
				eq(t, "file after OUT", e.fileAt(int64(c.off), len(data)), data)
				// Neighbours untouched.
				eq(t, "byte before", e.fileAt(int64(c.off)-1, 1), pattern(int(c.off)-1, 1))
				end := int(c.off + w.Len)
				eq(t, "byte after", e.fileAt(int64(end), 1), pattern(end, 1))

				back := e.segs(8, 0, c.lens...)
				wantResults(t, e.run(rw(TypeIn, c.off, back)), int32(w.Len))
				eq(t, "IN after OUT", gather(back), data)
			})
		}
	})
}

// A read running into the end of the file is short: the backend goes on
// after the first partial transfer (reaching EOF) and reports the bytes it
// got, which the device turns into IOERR.
func TestShortRead(t *testing.T) {
	forEachBackend(t, func(t *testing.T, k backendKind) {
		e := newTestEnv(t, k, envConfig{size: 6000})
		in := e.segs(8, 0, 4096, 4096)
		wantResults(t, e.run(rw(TypeIn, 0, in)), 6000)
		eq(t, "data up to EOF", gather(in)[:6000], pattern(0, 6000))
	})
}

func TestFlush(t *testing.T) {
	forEachBackend(t, func(t *testing.T, k backendKind) {
		e := newTestEnv(t, k, envConfig{})
		out := e.segs(4096, 0, 4096, 4096, 4096, 4096)
		scatter(out, bytes.Repeat([]byte{0xab}, 4*4096))
		e.writeDirty(rw(TypeOut, 64<<10, out))
		wantResults(t, e.run(&Request{Type: TypeFlush}), 0)
		if n := dirtyPages(t, e.file, 64<<10, 4*4096); n != 0 {
			t.Fatalf("%d pages still dirty after FLUSH completed", n)
		}
	})
}

// FLUSH with writes still running completes after them (for io_uring the
// backend holds its FSYNC until they finish), and it completes without any
// kick: IOSQE_IO_DRAIN would have waited for the armed kick READ.
func TestFlushAfterRunningWrites(t *testing.T) {
	forEachBackend(t, func(t *testing.T, k backendKind) {
		e := newTestEnv(t, k, envConfig{})
		var reqs []*Request
		for i := range 8 {
			out := e.segs(4096, 0, 64<<10)
			scatter(out, bytes.Repeat([]byte{byte(i + 1)}, 64<<10))
			reqs = append(reqs, rw(TypeOut, uint64(i)<<20, out))
		}
		reqs = append(reqs, &Request{Type: TypeFlush})
		// A read started after the FLUSH is not held behind it.
		reqs = append(reqs, rw(TypeIn, 0, e.segs(4096, 0, 4096)))
		for i, r := range reqs {
			if err := e.b.Start(uint64(i), r); err != nil {
				t.Fatal(err)
			}
		}
		if u, ok := e.b.(*Uring); ok && len(u.barriers) != 1 {
			t.Fatalf("FLUSH with 8 writes running: %d held, want 1", len(u.barriers))
		}
		if err := e.b.Submit(); err != nil {
			t.Fatal(err)
		}
		order := e.waitN(len(reqs))
		pos := map[uint64]int{}
		for i, c := range order {
			pos[c.Tag] = i
			if c.Result < 0 {
				t.Errorf("tag %d: %v", c.Tag, resultErr(c.Result))
			}
		}
		for i := range 8 {
			if pos[uint64(i)] > pos[8] {
				t.Errorf("write %d completed after the FLUSH started behind it", i)
			}
		}
		if n := dirtyPages(t, e.file, 0, 8<<20); n != 0 {
			t.Errorf("%d pages dirty after FLUSH", n)
		}
	})
}

// A Durable write (write-through: the driver did not negotiate FLUSH) has
// left no dirty page behind when it completes.
func TestDurableWrite(t *testing.T) {
	forEachBackend(t, func(t *testing.T, k backendKind) {
		e := newTestEnv(t, k, envConfig{})
		out := e.segs(4096, 0, 4096, 4096)
		scatter(out, bytes.Repeat([]byte{0x5a}, 8192))
		// The same write, not Durable, leaves dirty pages.
		e.writeDirty(rw(TypeOut, 1<<20, out))
		e.run(&Request{Type: TypeFlush})

		w := rw(TypeOut, 2<<20, out)
		w.Durable = true
		wantResults(t, e.run(w), 8192)
		if n := dirtyPages(t, e.file, 2<<20, 8192); n != 0 {
			t.Errorf("Durable: %d pages dirty after the OUT completed", n)
		}
	})
}

func TestDiscardAndWriteZeroes(t *testing.T) {
	const size = 8 << 20
	cases := []struct {
		name string
		req  Request
		// freed: the range's blocks are deallocated (not only zeroed).
		freed bool
	}{
		{"discard", Request{Type: TypeDiscard, Offset: 1 << 20, Len: 1 << 20}, true},
		{"write zeroes", Request{Type: TypeWriteZeroes, Offset: 1 << 20, Len: 1 << 20}, false},
		{"write zeroes unmap", Request{Type: TypeWriteZeroes, Offset: 1 << 20, Len: 1 << 20, Unmap: true}, true},
		{"write zeroes unaligned", Request{Type: TypeWriteZeroes, Offset: 1<<20 + 512, Len: 3 * 512}, false},
	}
	forEachBackend(t, func(t *testing.T, k backendKind) {
		for _, c := range cases {
			for _, durable := range []bool{false, true} {
				e := newTestEnv(t, k, envConfig{size: size})
				if err := e.file.Sync(); err != nil {
					t.Fatal(err)
				}
				blocks := func() int64 {
					var st unix.Stat_t
					if err := unix.Fstat(int(e.file.Fd()), &st); err != nil {
						t.Fatal(err)
					}
					return st.Blocks
				}
				before := blocks()
				r := c.req
				r.Durable = durable
				wantResults(t, e.run(&r), 0)
				eq(t, c.name+": range", e.fileAt(int64(r.Offset), int(r.Len)), make([]byte, r.Len))
				eq(t, c.name+": before the range", e.fileAt(int64(r.Offset)-512, 512), pattern(int(r.Offset)-512, 512))
				end := int(r.Offset + r.Len)
				eq(t, c.name+": after the range", e.fileAt(int64(end), 512), pattern(end, 512))
				st, _ := e.file.Stat()
				if st.Size() != size {
					t.Errorf("%s: size %d, want %d (KEEP_SIZE)", c.name, st.Size(), size)
				}
				if freed := before-blocks() >= int64(r.Len/512); freed != c.freed {
					t.Errorf("%s: blocks %d -> %d, want freed=%v", c.name, before, blocks(), c.freed)
				}
				if durable {
					if n := dirtyPages(t, e.file, 0, size); n != 0 {
						t.Errorf("%s Durable: %d pages dirty", c.name, n)
					}
				}
			}
		}
	})
}

func TestReadOnlyRefusesWrites(t *testing.T) {
	forEachBackend(t, func(t *testing.T, k backendKind) {
		e := newTestEnv(t, k, envConfig{opts: Options{ReadOnly: true}})
		out := e.segs(8, 0, 4096)
		scatter(out, bytes.Repeat([]byte{1}, 4096))
		in := e.segs(8, 0, 4096)
		eROFS := -int32(unix.EROFS)
		got := e.run(
			rw(TypeOut, 0, out),
			&Request{Type: TypeDiscard, Offset: 0, Len: 4096},
			&Request{Type: TypeWriteZeroes, Offset: 0, Len: 4096},
			rw(TypeIn, 0, in),
			&Request{Type: TypeFlush},
		)
		wantResults(t, got, eROFS, eROFS, eROFS, 4096, 0)
		eq(t, "file", e.fileAt(0, 4096), pattern(0, 4096))
		eq(t, "IN", gather(in), pattern(0, 4096))
	})
}

func TestStartRejectsBadRequests(t *testing.T) {
	forEachBackend(t, func(t *testing.T, k backendKind) {
		e := newTestEnv(t, k, envConfig{})
		seg := e.segs(8, 0, 4096)
		bad := map[string]*Request{
			"GET_ID":             {Type: TypeGetID},
			"unknown type":       {Type: 99},
			"length mismatch":    {Type: TypeIn, Len: 8192, Iov: seg},
			"offset overflow":    {Type: TypeIn, Offset: 1<<63 - 1, Len: 4096, Iov: seg},
			"too many segments":  rw(TypeIn, 0, slices.Repeat(e.segs(8, 0, 1), MaxSegments+1)),
			"discard too long":   {Type: TypeDiscard, Len: MaxDiscardSectors*SectorSize + 512},
			"segments, no bytes": {Type: TypeOut, Len: 4096},
		}
		for name, r := range bad {
			if err := e.b.Start(1, r); err == nil || errors.Is(err, ErrBusy) {
				t.Errorf("%s: Start = %v, want a request error", name, err)
			}
		}
		if e.b.InFlight() != 0 {
			t.Errorf("InFlight %d after refused requests", e.b.InFlight())
		}
		// Empty transfers and ranges succeed without I/O.
		wantResults(t, e.run(&Request{Type: TypeIn}, &Request{Type: TypeDiscard, Offset: 4096}), 0, 0)
	})
}

func TestBusyAndRecovery(t *testing.T) {
	forEachBackend(t, func(t *testing.T, k backendKind) {
		e := newTestEnv(t, k, envConfig{opts: Options{QueueSize: 4}})
		reqs := make([]*Request, 5)
		for i := range reqs {
			reqs[i] = rw(TypeIn, uint64(i)*4096, e.segs(8, 0, 4096))
		}
		for i := range 4 {
			if err := e.b.Start(uint64(i), reqs[i]); err != nil {
				t.Fatal(err)
			}
		}
		if err := e.b.Start(4, reqs[4]); !errors.Is(err, ErrBusy) {
			t.Fatalf("fifth Start with QueueSize 4: %v, want ErrBusy", err)
		}
		if err := e.b.Submit(); err != nil {
			t.Fatal(err)
		}
		// Report one completion at a time: the slot comes back only when
		// reported, so ErrBusy holds until then.
		got, _, err := e.b.Wait(make([]Completion, 0, 1), true)
		for len(got) == 0 && err == nil {
			got, _, err = e.b.Wait(make([]Completion, 0, 1), true)
		}
		if err != nil || len(got) != 1 {
			t.Fatalf("Wait: %v, %v", got, err)
		}
		if err := e.b.Start(4, reqs[4]); err != nil {
			t.Fatalf("Start after a completion: %v", err)
		}
		if err := e.b.Submit(); err != nil {
			t.Fatal(err)
		}
		e.waitN(4)
		for i, r := range reqs {
			eq(t, "read", gather(r.Iov), pattern(i*4096, 4096))
		}
	})
}

// QD 128 of mixed reads, writes and flushes at random offsets and sizes,
// O_DIRECT: every request completes once with the right data, whatever
// order the completions come in.
func TestManyInFlight(t *testing.T) {
	forEachBackend(t, func(t *testing.T, k backendKind) {
		const qd = 128
		const size = 16 << 20
		e := newTestEnv(t, k, envConfig{size: size, direct: true, opts: Options{QueueSize: qd}})
		rng := rand.New(rand.NewPCG(1, 2))
		model := pattern(0, size)
		// Non-overlapping 64 KiB areas, one per request, so the model does
		// not depend on completion order.
		areas := rng.Perm(size / (64 << 10))[:qd]
		reqs := make([]*Request, qd)
		for i := range reqs {
			off := uint64(areas[i]) * (64 << 10)
			n := uint64(1+rng.IntN(16)) * 4096
			switch {
			case i%16 == 15:
				reqs[i] = &Request{Type: TypeFlush}
			case i%2 == 0:
				reqs[i] = rw(TypeIn, off, e.segs(4096, 0, n))
			default:
				out := e.segs(4096, 0, n)
				data := make([]byte, n)
				for j := range data {
					data[j] = byte(rng.Uint32())
				}
				scatter(out, data)
				copy(model[off:], data)
				reqs[i] = rw(TypeOut, off, out)
			}
		}
		for i, r := range reqs {
			if err := e.b.Start(uint64(i), r); err != nil {
				t.Fatal(err)
			}
		}
		if err := e.b.Submit(); err != nil {
			t.Fatal(err)
		}
		order := e.waitN(qd)
		inOrder := true
		for i, c := range order {
			r := reqs[c.Tag]
			if want := int32(r.Len); c.Result != want {
				t.Errorf("tag %d (type %d): result %d, want %d", c.Tag, r.Type, c.Result, want)
			}
			if r.Type == TypeIn {
				eq(t, "read", gather(r.Iov), model[r.Offset:r.Offset+r.Len])
			}
			inOrder = inOrder && c.Tag == uint64(i)
		}
		t.Logf("completions in start order: %v", inOrder)
		eq(t, "file", e.fileAt(0, size), model)
	})
}

// A blocked Wait wakes for Wake, for a write to the eventfd (what KVM does
// on QueueNotify), and for a completion; kicks between two Waits coalesce.
func TestKicks(t *testing.T) {
	for _, blocking := range []bool{false, true} {
		name := map[bool]string{false: "nonblocking eventfd", true: "blocking eventfd"}[blocking]
		t.Run(name, func(t *testing.T) {
			forEachBackend(t, func(t *testing.T, k backendKind) { testKicks(t, k, blocking) })
		})
	}
}

func testKicks(t *testing.T, k backendKind, blocking bool) {
	e := newTestEnv(t, k, envConfig{blockingKick: blocking})
	buf := make([]Completion, 0, 4)
	if _, kicked, err := e.b.Wait(buf, false); kicked || err != nil {
		t.Fatalf("idle non-blocking Wait: kicked=%v err=%v", kicked, err)
	}
	kickers := map[string]func() error{
		"Wake": e.b.Wake,
		"eventfd write": func() error {
			_, err := unix.Write(e.kick, []byte{1, 0, 0, 0, 0, 0, 0, 0})
			return err
		},
	}
	for name, kick := range kickers {
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			time.Sleep(20 * time.Millisecond) // let Wait block first (either order must work)
			if err := kick(); err != nil {
				t.Error(err)
			}
		}()
		got, kicked, err := e.b.Wait(buf, true)
		wg.Wait()
		if err != nil || !kicked || len(got) != 0 {
			t.Fatalf("%s: Wait = %v, kicked=%v, %v", name, got, kicked, err)
		}
		// Consumed: a non-blocking Wait sees nothing more.
		if _, kicked, _ := e.b.Wait(buf, false); kicked {
			t.Fatalf("%s: kick reported twice", name)
		}
	}
	// Kicks before a Wait coalesce: three Wakes are reported at least
	// once and at most three times (io_uring may read the eventfd
	// between two of them), and then no more.
	for range 3 {
		if err := e.b.Wake(); err != nil {
			t.Fatal(err)
		}
	}
	if _, kicked, err := e.b.Wait(buf, true); err != nil || !kicked {
		t.Fatalf("Wait after three Wakes: kicked=%v, %v", kicked, err)
	}
	kicks := 1
	for {
		// Submit sends a re-armed kick READ, which completes at once
		// if the counter is not zero.
		if err := e.b.Submit(); err != nil {
			t.Fatal(err)
		}
		_, kicked, err := e.b.Wait(buf, false)
		if err != nil {
			t.Fatal(err)
		}
		if !kicked {
			break
		}
		if kicks++; kicks > 3 {
			t.Fatal("three Wakes reported more than three times")
		}
	}
	// A completion alone wakes a blocked Wait, without a kick.
	in := e.segs(8, 0, 4096)
	if err := e.b.Start(7, rw(TypeIn, 0, in)); err != nil {
		t.Fatal(err)
	}
	if err := e.b.Submit(); err != nil {
		t.Fatal(err)
	}
	if got := e.waitN(1); got[0].Tag != 7 || got[0].Result != 4096 {
		t.Fatalf("completion %+v", got[0])
	}
}

func TestCloseWithRequestsInFlight(t *testing.T) {
	forEachBackend(t, func(t *testing.T, k backendKind) {
		e := newTestEnv(t, k, envConfig{})
		if err := e.b.Start(1, rw(TypeIn, 0, e.segs(8, 0, 4096))); err != nil {
			t.Fatal(err)
		}
		if err := e.b.Close(); err == nil {
			t.Fatal("Close with a request in flight succeeded")
		}
		if err := e.b.Submit(); err != nil {
			t.Fatal(err)
		}
		e.waitN(1)
		// The cleanup closes it now, and a second Close is harmless.
	})
}
