package block

import (
	"errors"
	"sync"
)

// swap is a backend replacement handed to a running worker: the worker
// takes no new request, lets the ones in flight complete on the old
// backend, then switches and closes the old one.
type swap struct {
	be       Backend
	capacity uint64 // sectors
	done     chan struct{}
}

// replaceState serialises Replace calls and remembers Close.
type replaceState struct {
	mu     sync.Mutex // held for a whole Replace
	closed bool       // guarded by Device.mu
	// shown is the capacity the configuration space reports: it changes
	// only once the worker serves the new image, so a driver that reads
	// it early cannot address sectors the old image lacks.
	shown uint64 // guarded by Device.mu
}

// ErrClosed is Replace's answer after Close.
var ErrClosed = errors.New("block: device closed")

// Replace puts a new image behind the device while the guest runs, as
// Firecracker's PATCH /drives does: requests already taken finish on the
// old backend, later ones go to be, and capacity (in sectors) becomes the
// disk size the configuration space reports. The device owns be from the
// call on (even when Replace fails, be is closed). It returns once the
// switch is complete; the caller then tells the driver with a
// configuration-change interrupt (virtio.Transport.ConfigChanged). Safe
// from any goroutine; not from the transport's callbacks.
func (d *Device) Replace(be Backend, capacity uint64) error {
	d.replace.mu.Lock()
	defer d.replace.mu.Unlock()
	d.mu.Lock()
	if d.replace.closed {
		d.mu.Unlock()
		be.Close()
		return ErrClosed
	}
	old := d.cfg.Backends[0]
	d.cfg.Backends[0] = be
	d.cfg.Capacity = capacity // for the next activation
	ws := d.workers
	var waits []chan struct{}
	for _, w := range ws {
		sw := &swap{be: be, capacity: capacity, done: make(chan struct{})}
		w.pending.Store(sw)
		waits = append(waits, sw.done)
	}
	d.mu.Unlock()
	if len(ws) == 0 {
		// Not activated (or reset): nothing uses the old backend.
		if err := old.Close(); err != nil {
			return err
		}
	}
	for i, w := range ws {
		w.wake()
		<-waits[i]
	}
	d.mu.Lock()
	d.replace.shown = capacity
	d.mu.Unlock()
	return nil
}

// finishSwap switches to the pending backend. Preconditions: called by the
// worker with nothing in flight and nothing waiting to be retried.
func (w *worker) finishSwap() {
	sw := w.pending.Swap(nil)
	w.beMu.Lock()
	old := w.be
	w.be = sw.be
	w.beMu.Unlock()
	w.disk.capacity = sw.capacity
	if err := old.Close(); err != nil {
		w.stats.backendError(err)
	}
	close(sw.done)
}

// retireOnExit handles a replacement the worker did not get to (the driver
// reset the device first): the device already serves the new backend to
// the next activation, so the old one is closed here, by its last user.
func (w *worker) retireOnExit() {
	sw := w.pending.Swap(nil)
	if sw == nil {
		return
	}
	if w.be.InFlight() == 0 {
		if err := w.be.Close(); err != nil {
			w.stats.backendError(err)
		}
	}
	close(sw.done)
}
