package block

import (
	"errors"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"vmm/devices/virtio"
)

// worker serves one virtqueue: it is the only goroutine touching the
// queue, its slots and its backend. It sleeps in Backend.Wait, which
// returns for completions and for the guest's notifications alike.
type worker struct {
	q          *virtio.Queue
	be         Backend
	irq        *virtio.Interrupt
	disk       *disk
	id         [IDLength]byte
	stats      *Stats
	needsReset func(error)

	slots  []slot           // by descriptor head: unique while in flight
	segs   []virtio.Segment // scratch for one chain
	done   []Completion     // scratch for Wait
	retry  []uint16         // heads whose Start said ErrBusy, oldest first
	added  bool             // used entries added since the last publish
	broken bool             // a protocol violation stopped this queue

	stopping atomic.Bool
	exited   chan struct{}

	// pending is a backend replacement waiting for the queue to go idle
	// (Device.Replace); beMu guards be against other goroutines' reads
	// (stop, Replace) while the worker swaps it.
	pending atomic.Pointer[swap]
	beMu    sync.Mutex
}

// slot is one request's state while it is in flight.
type slot struct {
	req Request
	p   parsed
	iov [MaxSegments]unix.Iovec
}

func newWorker(q *virtio.Queue, be Backend, irq *virtio.Interrupt, d *disk, id string, stats *Stats, needsReset func(error)) *worker {
	w := &worker{q: q, be: be, irq: irq, disk: d, stats: stats, needsReset: needsReset,
		slots: make([]slot, q.Size), segs: make([]virtio.Segment, 0, q.Size),
		done: make([]Completion, 0, q.Size), exited: make(chan struct{})}
	copy(w.id[:], id)
	for i := range w.slots {
		w.slots[i].req.Iov = w.slots[i].iov[:0]
	}
	return w
}

// run is the worker's loop: take new requests when kicked, hand them to
// the backend, complete what finished, interrupt the guest when it asked.
func (w *worker) run() {
	defer close(w.exited)
	defer w.retireOnExit()
	look := true // the driver may have queued requests before its first kick
	for {
		swapping := w.pending.Load() != nil
		if look && !w.stopping.Load() && !w.broken {
			if swapping {
				w.startRetries() // finish what was taken; take nothing new
			} else {
				w.drain()
			}
		}
		if err := w.be.Submit(); err != nil {
			w.stats.backendError(err)
		}
		w.publish()
		if swapping && !w.stopping.Load() && w.be.InFlight() == 0 && len(w.retry) == 0 {
			w.finishSwap()
			look = true // requests the driver queued meanwhile
			continue
		}
		if w.stopping.Load() && w.be.InFlight() == 0 {
			return
		}
		comps, kicked, err := w.be.Wait(w.done[:0], true)
		if err != nil {
			// The backend cannot wait any more (its ring is gone): nothing
			// this worker does can help; the queue stops.
			w.stats.backendError(err)
			return
		}
		if kicked {
			w.stats.Kicks.Add(1)
		}
		for _, c := range comps {
			w.complete(c)
		}
		look = kicked || (len(w.retry) > 0 && len(comps) > 0)
	}
}

// drain takes every available request, then asks for notifications again
// and drains once more if the driver added requests in between.
func (w *worker) drain() {
	for {
		w.q.DisableNotify()
		if !w.startRetries() {
			return // still busy: completions will bring the worker back
		}
		for {
			head, ok, err := w.q.Pop()
			if err != nil {
				w.violation(err)
				return
			}
			if !ok {
				break
			}
			if !w.process(head) {
				return // busy
			}
		}
		if !w.q.EnableNotify() {
			return
		}
	}
}

// startRetries restarts requests the backend had no room for, in order.
// It reports false if the backend is still busy.
func (w *worker) startRetries() bool {
	for len(w.retry) > 0 {
		head := w.retry[0]
		if !w.start(head) {
			return false
		}
		w.retry = w.retry[1:]
	}
	w.retry = w.retry[:0]
	return true
}

// process parses the chain at head and starts it or completes it at once.
// It reports false when the backend is busy (head is queued for a retry).
func (w *worker) process(head uint16) bool {
	segs, err := w.q.ReadChain(head, w.segs[:0])
	if err != nil {
		w.violation(err)
		return true
	}
	s := &w.slots[head]
	s.req.Iov = s.iov[:0]
	status, err := parse(segs, w.disk, &s.req, &s.p)
	if err != nil {
		if s.p.status == nil {
			w.violation(err) // no status byte to answer with
			return true
		}
		w.stats.requestError(err, status)
		w.finish(head, status, 0)
		return true
	}
	switch s.req.Type {
	case TypeGetID:
		w.stats.GetIDs.Add(1)
		w.getID(s)
		w.finish(head, StatusOK, s.p.writable)
		return true
	case TypeOut, TypeDiscard, TypeWriteZeroes:
		// Without FLUSH negotiated the driver cannot ask for durability,
		// so every write must be durable when it completes, unless the
		// disk was configured not to care.
		s.req.Durable = w.disk.features&FeatureFlush == 0 && !w.disk.unsafe
	}
	return w.start(head)
}

// start hands the request at head to the backend.
func (w *worker) start(head uint16) bool {
	s := &w.slots[head]
	err := w.be.Start(uint64(head), &s.req)
	switch {
	case errors.Is(err, ErrBusy):
		if len(w.retry) == 0 || w.retry[0] != head {
			w.retry = append(w.retry, head)
		}
		return false
	case err != nil:
		w.stats.backendError(err)
		w.finish(head, StatusIOErr, 0)
	}
	return true
}

// getID writes the disk's ID into the request's buffers, NUL-padded to
// IDLength (or as much as fits).
func (w *worker) getID(s *slot) {
	id := w.id[:s.p.writable]
	for _, seg := range s.p.data {
		n := copy(seg.Mem, id)
		id = id[n:]
	}
}

// complete finishes a request the backend reports done.
func (w *worker) complete(c Completion) {
	if c.Tag >= uint64(len(w.slots)) {
		w.stats.backendError(errors.New("completion for an unknown request"))
		return
	}
	head := uint16(c.Tag)
	if w.stopping.Load() {
		return // the driver reset the device: its rings are no longer ours to write
	}
	s := &w.slots[head]
	ok := c.Result >= 0
	if s.req.Type == TypeIn || s.req.Type == TypeOut {
		ok = c.Result == int32(s.req.Len)
	}
	if !ok {
		w.stats.ioError(s.req.Type, c.Result)
		w.finish(head, StatusIOErr, 0)
		return
	}
	w.stats.done(s.req.Type, s.req.Len)
	w.finish(head, StatusOK, s.p.writable)
}

// finish writes the status byte and returns the chain to the driver; the
// used length counts the data the device wrote plus the status byte.
func (w *worker) finish(head uint16, status uint8, written uint32) {
	w.slots[head].p.status[0] = status
	w.q.AddUsed(head, written+1)
	w.added = true
}

// publish makes finished requests visible and interrupts the driver if it
// asked to be.
func (w *worker) publish() {
	if !w.added {
		return
	}
	w.added = false
	w.q.PublishUsed()
	if w.q.NeedsInterrupt() {
		w.stats.Interrupts.Add(1)
		_ = w.irq.Trigger(virtio.InterruptUsedBuffer)
	}
}

// violation stops the queue on a protocol violation and has the transport
// set DEVICE_NEEDS_RESET. Requests in flight still complete.
func (w *worker) violation(err error) {
	w.broken = true
	w.stats.violation(err)
	w.needsReset(err)
}

// stop makes the worker stop taking requests, wait for the ones in flight,
// and exit; it returns once it has.
func (w *worker) stop() {
	w.stopping.Store(true)
	w.wake()
	<-w.exited
}

// wake makes the worker's Wait return. Safe from any goroutine.
func (w *worker) wake() {
	w.beMu.Lock()
	_ = w.be.Wake()
	w.beMu.Unlock()
}
