package block

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	vt "vmm/devices/virtio/virtiotest"
)

// gatedBackend withholds completions until open is closed, so a test can
// hold a request in flight across a Replace.
type gatedBackend struct {
	Backend
	open    chan struct{}
	held    []Completion
	closed  atomic.Bool
	started atomic.Int32
}

func (g *gatedBackend) Start(tag uint64, r *Request) error {
	g.started.Add(1)
	return g.Backend.Start(tag, r)
}

func (g *gatedBackend) Wait(done []Completion, block bool) ([]Completion, bool, error) {
	select {
	case <-g.open:
		done = append(done, g.held...)
		g.held = nil
		return g.Backend.Wait(done, block && len(done) == 0)
	default:
	}
	// Room for completions: a Wait with none returns at once without
	// arming the kick, so the worker would spin and never see the
	// driver's kick (the test then failed now and then, whenever the
	// worker's first look at the ring came before the request).
	comps, kicked, err := g.Backend.Wait(make([]Completion, 0, QueueSize), block)
	g.held = append(g.held, comps...)
	return done, kicked, err
}

func (g *gatedBackend) InFlight() int { return g.Backend.InFlight() + len(g.held) }

func (g *gatedBackend) Close() error {
	g.closed.Store(true)
	return g.Backend.Close()
}

// TestDeviceReplace swaps the image behind a running device with a read
// in flight: the read completes from the old image, Replace waits for it,
// the old backend is closed, and later reads (including past the old end)
// come from the new image, whose size the configuration space then shows.
func TestDeviceReplace(t *testing.T) {
	gate := &gatedBackend{open: make(chan struct{})}
	orig := newTestBackend
	newTestBackend = func(t testing.TB, f *os.File, kick int) Backend {
		gate.Backend = orig(t, f, kick)
		return gate
	}
	defer func() { newTestBackend = orig }()
	// The new image: 2 MiB of 0x5a. Opened before the rig, so that it
	// closes after the device (cleanups run last-in first-out).
	path := filepath.Join(t.TempDir(), "new.img")
	if err := os.WriteFile(path, bytes.Repeat([]byte{0x5a}, 2<<20), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	r := newRig(t, rigOptions{size: 1 << 20})

	buf := r.drv.Alloc(512, 512)
	head, st := r.request(TypeIn, 1, []vt.Buf{{Addr: buf, Len: 512, Write: true}})
	replaced := make(chan error, 1)
	for deadline := time.Now().Add(10 * time.Second); gate.started.Load() == 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the worker never took the read")
		}
	}
	next := mustSync(t, f, r.kick)
	go func() { replaced <- r.dev.Replace(next, (2<<20)/SectorSize) }()
	select {
	case err := <-replaced:
		t.Fatalf("Replace returned (%v) with a request in flight on the old image", err)
	case <-time.After(200 * time.Millisecond):
	}
	close(gate.open)
	gate.Wake()
	if s, _ := r.wait(head, st); s != StatusOK {
		t.Fatalf("read in flight across Replace: status %d", s)
	}
	got, _ := r.mem.Slice(buf, 512)
	if !bytes.Equal(got, r.fileAt(512, 512)) {
		t.Fatal("the read in flight did not come from the old image")
	}
	select {
	case err := <-replaced:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Replace did not return once the old image was idle")
	}
	if !gate.closed.Load() {
		t.Error("the old backend was not closed")
	}
	var capb [8]byte
	r.dev.ReadConfig(cfgCapacity, capb[:])
	if c := binary.LittleEndian.Uint64(capb[:]); c != (2<<20)/SectorSize {
		t.Errorf("configuration space capacity %d sectors, want %d", c, (2<<20)/SectorSize)
	}
	// Sector 3000 lies past the old 1 MiB image's end.
	head, st = r.request(TypeIn, 3000, []vt.Buf{{Addr: buf, Len: 512, Write: true}})
	if s, _ := r.wait(head, st); s != StatusOK {
		t.Fatalf("read past the old end: status %d", s)
	}
	if got, _ := r.mem.Slice(buf, 512); !bytes.Equal(got, bytes.Repeat([]byte{0x5a}, 512)) {
		t.Fatal("read after Replace did not come from the new image")
	}
}

// TestDeviceReplaceIdleAndClosed: an idle device closes the old
// backend at once and activates on the new one; after Close, Replace
// refuses and closes what it was given.
func TestDeviceReplaceIdleAndClosed(t *testing.T) {
	old := &gatedBackend{Backend: nopBackend{}, open: make(chan struct{})}
	d, err := New(Config{ID: "x", Capacity: 8, Backends: []Backend{old}})
	if err != nil {
		t.Fatal(err)
	}
	nb := &gatedBackend{Backend: nopBackend{}, open: make(chan struct{})}
	if err := d.Replace(nb, 16); err != nil {
		t.Fatal(err)
	}
	if !old.closed.Load() || nb.closed.Load() {
		t.Fatalf("old closed %v, new closed %v: want true, false", old.closed.Load(), nb.closed.Load())
	}
	d.Close()
	if !nb.closed.Load() {
		t.Fatal("Close did not close the replacement backend")
	}
	late := &gatedBackend{Backend: nopBackend{}, open: make(chan struct{})}
	if err := d.Replace(late, 32); err != ErrClosed || !late.closed.Load() {
		t.Fatalf("Replace after Close: %v, closed %v", err, late.closed.Load())
	}
}

// nopBackend is a backend that never runs anything.
type nopBackend struct{}

func (nopBackend) Start(uint64, *Request) error { return nil }
func (nopBackend) Submit() error                { return nil }
func (nopBackend) Wait(d []Completion, _ bool) ([]Completion, bool, error) {
	return d, false, nil
}
func (nopBackend) Wake() error   { return nil }
func (nopBackend) InFlight() int { return 0 }
func (nopBackend) Close() error  { return nil }
func (nopBackend) Name() string  { return "nop" }

func mustSync(t testing.TB, f *os.File, kick int) Backend {
	b, err := NewSync(f, kick, Options{QueueSize: QueueSize})
	if err != nil {
		t.Fatal(err)
	}
	return b
}
