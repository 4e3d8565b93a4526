//go:build linux

package zerocopy

import (
	"encoding/binary"
	"errors"
	"testing"
)

// model is the pool as the spec describes it: live handles with their
// reference counts, and the current generation of every buffer.
type model struct {
	live   map[Handle]int
	gen    []uint64
	issued []Handle // every handle ever returned, live or dead
	seen   map[Handle]bool
	counts Stats // expected error counters
	closed bool
}

// expect is what the model says an operation on h must return.
func (m *model) expect(op string, h Handle) error {
	if m.closed {
		return ErrClosed
	}
	if h.Generation() == 0 || h.Index() >= len(m.gen) {
		return ErrInvalidHandle
	}
	if refs, ok := m.live[h]; ok {
		if op == "retain" && refs == MaxRefs {
			return ErrRefOverflow
		}
		return nil
	}
	if op == "release" && m.gen[h.Index()] == nextGen(h.Generation()) {
		return ErrDoubleRelease
	}
	return ErrStaleHandle
}

func (m *model) count(err error) {
	switch {
	case errors.Is(err, ErrExhausted):
		m.counts.Exhausted++
	case errors.Is(err, ErrStaleHandle):
		m.counts.StaleHandle++
	case errors.Is(err, ErrDoubleRelease):
		m.counts.DoubleRelease++
	case errors.Is(err, ErrInvalidHandle):
		m.counts.InvalidHandle++
	case errors.Is(err, ErrRefOverflow):
		m.counts.RefOverflow++
	case errors.Is(err, ErrClosed):
		m.counts.Closed++
	}
}

func (m *model) release(h Handle) {
	m.live[h]--
	if m.live[h] == 0 {
		delete(m.live, h)
		m.gen[h.Index()] = nextGen(m.gen[h.Index()])
	}
}

// FuzzPoolOps drives random operation sequences against the pool and the
// model in lockstep. Byte 0 sizes the pool; then each pair of bytes is an
// operation and its argument. Handles are picked from everything ever
// issued (so dead ones get replayed) or forged from the argument.
func FuzzPoolOps(f *testing.F) {
	f.Add([]byte{0, 0, 0, 1, 0, 2, 0, 2, 0, 2, 0, 3, 0})
	f.Add([]byte{3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 2, 0, 2, 1, 0, 0, 3, 2, 5, 0})
	f.Add([]byte{1, 0, 0, 1, 0, 1, 0, 5, 0, 2, 0, 5, 0, 2, 0, 2, 0, 0, 0, 5, 0})
	f.Add([]byte{2, 0, 0, 0, 0, 6, 0, 0, 0, 4, 9, 4, 0, 4, 255, 6, 1, 2, 1, 3, 1})
	f.Add([]byte{3, 0, 0, 1, 0, 1, 0, 0, 0, 2, 0, 2, 0, 2, 0, 0, 0, 2, 0, 2, 1, 2, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		n := 1 + int(data[0]%4)
		p, err := New(Config{Count: n, Size: 512, Align: 512})
		if err != nil {
			t.Fatal(err)
		}
		defer func() {
			if !p.closed.Load() {
				for h, r := range p.liveForTest() {
					for range r {
						p.Release(h)
					}
				}
				if err := p.Close(); err != nil {
					t.Errorf("Close after releasing everything: %v", err)
				}
			}
		}()
		m := &model{live: map[Handle]int{}, gen: make([]uint64, n), seen: map[Handle]bool{}}
		for i := range m.gen {
			m.gen[i] = 1
		}
		pick := func(arg byte) Handle {
			if len(m.issued) == 0 {
				return Handle{}
			}
			return m.issued[int(arg)%len(m.issued)]
		}
		data = data[1:]
		for k := 0; k+1 < len(data); k += 2 {
			op, arg := data[k]%7, data[k+1]
			switch op {
			case 0: // Acquire
				h, err := p.Acquire()
				m.count(err)
				switch {
				case m.closed:
					if !errors.Is(err, ErrClosed) {
						t.Fatalf("Acquire after Close: %v", err)
					}
				case len(m.live) == n:
					if !errors.Is(err, ErrExhausted) {
						t.Fatalf("Acquire with all %d held = %+v, %v; want ErrExhausted", n, h, err)
					}
				case err != nil:
					t.Fatalf("Acquire with %d of %d held: %v", len(m.live), n, err)
				default:
					for o := range m.live {
						if o.Index() == h.Index() {
							t.Fatalf("Acquire returned buffer %d, still held by %+v", h.Index(), o)
						}
					}
					if m.seen[h] || h.Generation() != m.gen[h.Index()] {
						t.Fatalf("Acquire returned %+v: reused handle or generation %d, want %d", h, h.Generation(), m.gen[h.Index()])
					}
					m.seen[h] = true
					m.issued = append(m.issued, h)
					m.live[h] = 1
					b, _ := p.Bytes(h)
					binary.LittleEndian.PutUint64(b, h.v)
				}
			case 1, 2, 3, 4, 6:
				h := pick(arg)
				if op == 4 { // forged
					h = makeHandle(uint32(arg%8), uint64(arg>>3))
				}
				name := map[byte]string{1: "retain", 2: "release", 3: "bytes", 4: "release", 6: "release"}[op]
				reps := 1
				if op == 6 { // drop every reference
					reps = max(1, m.live[h])
				}
				for range reps {
					want := m.expect(name, h)
					var err error
					switch name {
					case "retain":
						err = p.Retain(h)
					case "release":
						err = p.Release(h)
					case "bytes":
						var b []byte
						b, err = p.Bytes(h)
						if err == nil && binary.LittleEndian.Uint64(b) != h.v {
							t.Fatalf("buffer %d stamped %#x, want its owner %#x", h.Index(), binary.LittleEndian.Uint64(b), h.v)
						}
					}
					if !errors.Is(err, want) && !(want == nil && err == nil) {
						t.Fatalf("%s(%+v) = %v, model wants %v", name, h, err, want)
					}
					m.count(err)
					if err == nil {
						switch name {
						case "retain":
							m.live[h]++
						case "release":
							m.release(h)
						}
					}
				}
			case 5: // Close
				err := p.Close()
				switch {
				case m.closed:
					if !errors.Is(err, ErrClosed) {
						t.Fatalf("second Close = %v", err)
					}
				case len(m.live) > 0:
					if !errors.Is(err, ErrBusy) {
						t.Fatalf("Close with %d held = %v, want ErrBusy", len(m.live), err)
					}
				default:
					if err != nil {
						t.Fatalf("Close with nothing held: %v", err)
					}
					m.closed = true
				}
			}
			// Invariants after every step.
			st := p.Stats()
			want := m.counts
			want.Count, want.Size, want.Align = n, 512, 512
			want.InUse = len(m.live)
			if m.closed {
				want.InUse = 0
			}
			if st != want {
				t.Fatalf("after op %d/%d: Stats = %+v\nmodel wants     %+v", op, arg, st, want)
			}
			if !m.closed {
				for h, r := range m.live {
					if s := p.states[h.Index()].Load(); genOf(s) != h.Generation() || int(refOf(s)) != r {
						t.Fatalf("buffer %d state gen %d refs %d, model %+v refs %d", h.Index(), genOf(s), refOf(s), h, r)
					}
				}
			}
		}
	})
}

// liveForTest lists the current handles and counts of referenced buffers.
func (p *Pool) liveForTest() map[Handle]int {
	out := map[Handle]int{}
	for i := range p.states {
		s := p.states[i].Load()
		if refOf(s) > 0 {
			out[makeHandle(uint32(i), genOf(s))] = int(refOf(s))
		}
	}
	return out
}
