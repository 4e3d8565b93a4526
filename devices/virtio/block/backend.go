package block

import "errors"

// Backend executes requests against the disk image. The device's queue
// worker goroutine owns it and is its only caller: no method is called
// concurrently with another, and the backend never calls back into the
// device. Completion is reported through Wait, never before the I/O it
// stands for has finished (for a write, has reached the file; see the
// durability contract below).
//
// The same worker also waits for the guest's notifications: the backend is
// given the queue's ioeventfd at construction and reports that it fired
// ("kicked"), so the worker sleeps in exactly one place. The io_uring
// backend reads the eventfd through its own ring; the sync backend polls it.
//
// Durability contract (docs/virtio-blk.md):
//   - A FLUSH completes only after every write that completed before the
//     FLUSH was started is durable (fdatasync semantics). Writes started
//     before the FLUSH but not yet completed may or may not be covered.
//   - A request with Durable set (the guest did not negotiate
//     VIRTIO_BLK_F_FLUSH, so it cannot ask for durability otherwise)
//     completes only once it is durable.
type Backend interface {
	// Start begins req, tagged tag (the device's slot id, echoed in its
	// Completion). The backend may run it at once or queue it until
	// Submit. req and its Iov stay untouched by the device until the
	// completion arrives. ErrBusy means no more requests fit right now (no
	// submission slot, no bounce buffer): the worker retries after the next
	// completion. Any other error is a failure of this request only; the
	// worker completes it with StatusIOErr.
	Start(tag uint64, req *Request) error
	// Submit hands everything Start queued to the kernel.
	Submit() error
	// Wait appends completed requests to done (up to cap(done)) and
	// reports whether the ioeventfd fired since the last Wait. With block
	// set it sleeps until at least one of the two happens, or until Wake.
	Wait(done []Completion, block bool) (completions []Completion, kicked bool, err error)
	// Wake makes a blocked Wait return (kicked=true): the device uses it to
	// tell its worker to look at a reset or a stop. Safe from any goroutine.
	Wake() error
	// InFlight is the number of requests started and not yet reported by Wait.
	InFlight() int
	// Close releases the backend. Preconditions: InFlight() == 0.
	Close() error
	// Name is "io_uring" or "sync", for logs.
	Name() string
}

// Completion reports one finished request.
type Completion struct {
	Tag uint64
	// Result is the byte count for IN/OUT (which must equal Request.Len for
	// success), 0 for success of other types, or a negative errno.
	Result int32
}

// ErrBusy is Start's "not now": retry once a request has completed.
var ErrBusy = errors.New("block backend busy")

// Options configure a backend for one disk image.
type Options struct {
	// ReadOnly refuses OUT, DISCARD and WRITE_ZEROES with -EROFS (the
	// device refuses them earlier; this is defence in depth).
	ReadOnly bool
	// Direct means the file was opened O_DIRECT: a request with any segment
	// whose address or length is not a multiple of MemAlign (or whose
	// length is not a multiple of OffsetAlign) goes whole through bounce
	// buffers; one whose offset or length is not a multiple of OffsetAlign
	// cannot be done with O_DIRECT at all and fails. Alignments left at 0
	// are read from the file (statx).
	Direct                bool
	MemAlign, OffsetAlign uint32
	// QueueSize is the most requests that can be in flight at once.
	QueueSize int
}
