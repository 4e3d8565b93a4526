package block

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"

	"vmm/guestmem"
	"vmm/iouring"
)

// Uring is the default backend: one io_uring per queue, one SQE per request,
// iovecs straight into guest RAM, and the queue's kick eventfd read through
// the same ring, so the worker sleeps in a single io_uring_enter for both
// guest notifications and I/O completions.
//
// The ring is restricted before it is enabled: it can only READ, READV,
// WRITEV, FSYNC and FALLOCATE, and only on its two registered files (the
// disk and the kick eventfd), and no io_uring_register operation is
// allowed afterwards. A process taken over through a bug can then not use
// the ring to open, read or write anything else.
type Uring struct {
	ring   *iouring.Ring
	file   *os.File // keeps the disk's descriptor open; the ring holds its own reference too
	kickFD int      // owned by the caller
	opts   Options
	bounce *bouncer // nil unless opts.Direct

	slots []uringSlot
	free  []uint32 // free slot indices, used as a stack
	ready []uint32 // finished slots in completion order, not yet reported by Wait
	cqes  []iouring.CQE

	seq           uint64   // requests started so far; orders FLUSH barriers
	writesRunning int      // OUT, DISCARD and WRITE_ZEROES requests in the kernel
	barriers      []uint32 // FLUSH slots held until earlier writes finish, oldest first

	kickBuf   []byte // the kick READ's 8-byte target: an mmap, outside the Go heap
	kickArmed bool   // a kick READ is in the ring
	kicked    bool   // a kick was reaped since the last Wait returned
	closing   bool   // Close is disarming the kick: do not re-arm
	err       error  // a failure found while reaping, reported by the next Wait

	fixed []iouring.BufferRegion // memory registered as fixed buffers (experiment; see uringConfig)

	// onIssue, when set (tests only), sees every request SQE once filled.
	onIssue func(*iouring.SQE)
}

// uringSlot is one request the backend holds, from Start until Wait reports
// it. Its index is the request's user_data.
type uringSlot struct {
	req  *Request
	tag  uint64
	seq  uint64
	op   operation
	mode uint32 // fallocate mode

	state   slotState
	writes  bool   // counted in writesRunning
	syncing bool   // a Durable fallocate done, its fdatasync running
	before  int    // a held FLUSH: earlier writes still running
	done    uint64 // IN/OUT bytes transferred so far (short transfers continue)
	res     int32

	iov    []unix.Iovec // what the kernel transfers: req.Iov or the bounce buffers
	cont   []unix.Iovec // the remainder after a short transfer; allocated on first use
	bounce *bounceState // nil unless the backend bounces
}

type slotState uint8

const (
	slotFree    slotState = iota
	slotRunning           // an SQE is in the ring or the kernel
	slotHeld              // a FLUSH waiting for earlier writes
	slotReady             // finished, waiting to be reported
)

// Fixed-file table: the disk and the kick eventfd.
const (
	diskIndex = 0
	kickIndex = 1
)

// kickUserData marks the kick READ's completion. Slot indices are below
// 32768, so no request can carry it.
const kickUserData = 1 << 63

// setupError marks an io_uring_setup failure, so NewBackend can tell
// "io_uring unavailable here" from other errors.
type setupError struct{ err error }

func (e *setupError) Error() string { return "block backend: " + e.err.Error() }
func (e *setupError) Unwrap() error { return e.err }

// isSetupError reports whether err is NewUring failing at io_uring_setup.
func isSetupError(err error) bool {
	var se *setupError
	return errors.As(err, &se)
}

// uringConfig holds knobs that are not part of Options: benchmarks and
// tests use them to measure alternatives.
type uringConfig struct {
	setupFlags uint32                 // extra IORING_SETUP_* flags
	fixed      []iouring.BufferRegion // register these (guest RAM) and use READ_FIXED/WRITE_FIXED for single-segment requests inside them
}

// NewUring sets up the io_uring backend for one queue of file. kickFD is
// the queue's ioeventfd, created and closed by the caller (after Close).
func NewUring(file *os.File, kickFD int, opts Options) (*Uring, error) {
	return newUring(file, kickFD, opts, uringConfig{})
}

func newUring(file *os.File, kickFD int, opts Options, cfg uringConfig) (_ *Uring, err error) {
	if err := checkOptions(&opts); err != nil {
		return nil, err
	}
	fd, err := fileFD(file)
	if err != nil {
		return nil, err
	}
	u := &Uring{file: file, kickFD: kickFD, fixed: cfg.fixed}
	defer func() {
		if err != nil {
			u.teardown()
		}
	}()
	if u.bounce, err = bouncerFor(file, &opts); err != nil {
		return nil, err
	}
	u.opts = opts

	// Each slot has at most one SQE not yet consumed by the kernel, and
	// the kick READ one more, so the SQ never fills.
	n := opts.QueueSize
	u.ring, err = iouring.Setup(uint32(n+1), &iouring.Params{Flags: iouring.SetupRDisabled | cfg.setupFlags})
	if err != nil {
		return nil, &setupError{err}
	}
	if err := u.ring.RegisterFiles([]int32{int32(fd), int32(kickFD)}); err != nil {
		return nil, fmt.Errorf("block backend: %w", err)
	}
	ops := []uint8{iouring.OpRead, iouring.OpReadv, iouring.OpWritev, iouring.OpFsync, iouring.OpFallocate}
	if len(cfg.fixed) > 0 {
		if err := u.ring.RegisterBufferRegions(cfg.fixed); err != nil {
			return nil, fmt.Errorf("block backend: %w", err)
		}
		ops = append(ops, iouring.OpReadFixed, iouring.OpWriteFixed)
	}
	res := []iouring.Restriction{iouring.RequireSQEFlags(iouring.SQEFixedFile)}
	for _, op := range ops {
		res = append(res, iouring.AllowSQEOp(op))
	}
	if err := u.ring.RegisterRestrictions(res); err != nil {
		return nil, fmt.Errorf("block backend: %w", err)
	}
	if err := u.ring.EnableRings(); err != nil {
		return nil, fmt.Errorf("block backend: %w", err)
	}
	if u.kickBuf, err = unix.Mmap(-1, 0, os.Getpagesize(), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS); err != nil {
		return nil, fmt.Errorf("block backend: map the kick buffer: %w", err)
	}

	u.slots = make([]uringSlot, n)
	u.free = make([]uint32, n)
	for i := range u.slots {
		u.free[i] = uint32(n - 1 - i) // slot 0 on top
		if u.bounce != nil {
			u.slots[i].bounce = new(bounceState)
		}
	}
	u.ready = make([]uint32, 0, n)
	u.barriers = make([]uint32, 0, n)
	u.cqes = make([]iouring.CQE, min(2*n+2, 256))

	// The kick READ is armed by the first Wait, not here: a backend made to
	// replace a running one (Device.Replace) shares the queue's eventfd,
	// and a READ armed early would steal the wake-up meant for the backend
	// still in use. A notification before the first Wait stays counted in
	// the eventfd and completes that READ.
	return u, nil
}

// Name is the backend's name for logs.
func (u *Uring) Name() string { return "io_uring" }

// InFlight is the number of requests started and not yet reported.
func (u *Uring) InFlight() int { return len(u.slots) - len(u.free) }

// Start queues req's SQE; Submit (or a blocking Wait) sends it.
func (u *Uring) Start(tag uint64, req *Request) error {
	if len(u.free) == 0 {
		return ErrBusy
	}
	p, err := planRequest(req, &u.opts)
	if err != nil {
		return err
	}
	i := u.free[len(u.free)-1]
	s := &u.slots[i]
	iov := req.Iov
	if !p.immediate && u.bounce != nil && (p.op == opRead || p.op == opWrite) {
		direct, err := u.bounce.direct(req)
		if err != nil {
			return err
		}
		if !direct {
			if err := u.bounce.acquire(s.bounce, req); err != nil {
				return err
			}
			iov = s.bounce.iovecs()
		}
	}
	u.free = u.free[:len(u.free)-1]
	s.req, s.tag, s.seq, s.op, s.mode = req, tag, u.seq, p.op, p.mode
	s.iov, s.done, s.res, s.syncing, s.writes = iov, 0, 0, false, false
	u.seq++
	if p.immediate {
		s.res = p.result
		s.state = slotReady
		u.ready = append(u.ready, i)
		return nil
	}
	switch p.op {
	case opFlush:
		if u.writesRunning > 0 {
			// Every write that completed before this FLUSH is covered by
			// an fdatasync issued now; holding it until the writes still
			// running finish covers those too, as IOSQE_IO_DRAIN would.
			// IO_DRAIN itself cannot be used: it also waits for the
			// armed kick READ, which completes only at the next kick.
			s.state = slotHeld
			s.before = u.writesRunning
			u.barriers = append(u.barriers, i)
			return nil
		}
	case opWrite, opFallocate:
		s.writes = true
		u.writesRunning++
	}
	s.state = slotRunning
	u.issue(i)
	return nil
}

// Submit hands every queued SQE to the kernel.
func (u *Uring) Submit() error {
	if _, err := u.ring.Submit(); err != nil {
		return fmt.Errorf("block backend: submit: %w", err)
	}
	return nil
}

// Wait reaps completions and reports finished requests (up to cap(done))
// and whether the kick fired. With block set and nothing to report it
// sleeps in io_uring_enter, submitting anything queued on the way.
func (u *Uring) Wait(done []Completion, block bool) ([]Completion, bool, error) {
	for {
		u.reap()
		room := cap(done) - len(done)
		n := min(room, len(u.ready))
		for _, i := range u.ready[:n] {
			s := &u.slots[i]
			done = append(done, Completion{Tag: s.tag, Result: s.res})
			s.req, s.iov, s.state = nil, nil, slotFree
			u.free = append(u.free, i)
		}
		u.ready = u.ready[:copy(u.ready, u.ready[n:])]
		if err := u.err; err != nil {
			u.err = nil
			k := u.kicked
			u.kicked = false
			return done, k, err
		}
		if n > 0 || u.kicked || !block || room == 0 {
			k := u.kicked
			u.kicked = false
			return done, k, nil
		}
		if !u.kickArmed {
			if err := u.armKick(); err != nil {
				return done, false, err
			}
		}
		if _, err := u.ring.SubmitAndWait(1); err != nil {
			return done, false, fmt.Errorf("block backend: wait: %w", err)
		}
	}
}

// Wake makes a blocked Wait return with kicked set. Any goroutine may call it.
func (u *Uring) Wake() error { return signalEventfd(u.kickFD) }

// Close tears the ring down. Preconditions: InFlight() == 0.
//
// The kick READ is always in the ring, so Close first completes it by
// signalling the eventfd (which also consumes any pending guest kick: the
// queue is being reset or stopped) and only then unmaps its buffer.
func (u *Uring) Close() error {
	if u.ring == nil {
		return nil
	}
	if n := u.InFlight(); n > 0 {
		return fmt.Errorf("block backend: close with %d requests in flight; reap their completions first", n)
	}
	var errs []error
	if u.kickArmed {
		u.closing = true
		if err := u.Wake(); err != nil {
			errs = append(errs, err)
		}
		for u.kickArmed && len(errs) == 0 {
			if _, err := u.ring.SubmitAndWait(1); err != nil {
				errs = append(errs, err)
			}
			u.reap()
		}
	}
	errs = append(errs, u.teardown())
	return errors.Join(errs...)
}

// teardown releases whatever newUring got. A kick buffer the kernel may
// still write (the READ could not be completed) is left mapped.
func (u *Uring) teardown() error {
	var errs []error
	if u.ring != nil {
		if err := u.ring.Close(); err != nil {
			errs = append(errs, err)
		}
		u.ring = nil
	}
	if u.kickBuf != nil && !u.kickArmed {
		if err := unix.Munmap(u.kickBuf); err != nil {
			errs = append(errs, fmt.Errorf("block backend: unmap the kick buffer: %w", err))
		}
		u.kickBuf = nil
	}
	if u.bounce != nil {
		if err := u.bounce.close(); err != nil {
			errs = append(errs, err)
		}
		u.bounce = nil
	}
	return errors.Join(errs...)
}

// armKick queues the READ of the kick eventfd.
func (u *Uring) armKick() error {
	sqe := u.ring.GetSQE()
	if sqe == nil {
		return errors.New("block backend: internal error: no SQE for the kick READ (the SQ is sized to always have one)")
	}
	sqe.PrepReadAddr(kickIndex, guestmem.AddressOf(u.kickBuf[:8]), 8, 0)
	sqe.SetFixedFile()
	sqe.SetUserData(kickUserData)
	u.kickArmed = true
	return nil
}

// issue queues slot i's next SQE: its operation, the rest of a short
// transfer, or a Durable fallocate's fdatasync.
func (u *Uring) issue(i uint32) {
	s := &u.slots[i]
	sqe := u.ring.GetSQE()
	if sqe == nil {
		// Cannot happen: each slot owns one SQ entry (see newUring).
		s.res = -int32(unix.EIO)
		u.err = errors.New("block backend: internal error: submission queue full")
		u.finish(i)
		return
	}
	switch s.op {
	case opRead, opWrite:
		off := s.req.Offset + s.done
		iov := s.iov
		if s.done > 0 {
			if s.cont == nil {
				s.cont = make([]unix.Iovec, 0, MaxSegments)
			}
			s.cont = skipIovecs(s.cont[:0], s.iov, s.done)
			iov = s.cont
		}
		if idx, ok := u.fixedIndex(iov); ok {
			addr, n := iovAddr(&iov[0]), uint32(iov[0].Len)
			if s.op == opRead {
				sqe.PrepReadFixedAddr(diskIndex, addr, n, off, idx)
			} else {
				sqe.PrepWriteFixedAddr(diskIndex, addr, n, off, idx)
			}
		} else if s.op == opRead {
			sqe.PrepReadv(diskIndex, iov, off)
		} else {
			sqe.PrepWritev(diskIndex, iov, off)
		}
		if s.op == opWrite && s.req.Durable {
			sqe.OpFlags = unix.RWF_DSYNC
		}
	case opFlush:
		sqe.PrepFsync(diskIndex, iouring.FsyncDatasync)
	case opFallocate:
		if s.syncing {
			sqe.PrepFsync(diskIndex, iouring.FsyncDatasync)
		} else {
			sqe.PrepFallocate(diskIndex, s.mode, s.req.Offset, s.req.Len)
		}
	}
	sqe.SetFixedFile()
	sqe.SetUserData(uint64(i))
	if u.onIssue != nil {
		u.onIssue(sqe)
	}
}

// fixedIndex returns the registered buffer holding a single-segment
// transfer, if buffers are registered.
func (u *Uring) fixedIndex(iov []unix.Iovec) (uint16, bool) {
	if len(u.fixed) == 0 || len(iov) != 1 {
		return 0, false
	}
	a, n := iovAddr(&iov[0]), uintptr(iov[0].Len)
	for k, r := range u.fixed {
		if a >= r.Addr && n <= uintptr(r.Len) && a-r.Addr <= uintptr(r.Len)-n {
			return uint16(k), true
		}
	}
	return 0, false
}

// reap processes every completion in the CQ.
func (u *Uring) reap() {
	for {
		n := u.ring.PeekBatchCQE(u.cqes)
		if n == 0 {
			return
		}
		for k := range u.cqes[:n] {
			u.complete(&u.cqes[k])
		}
	}
}

// complete handles one CQE.
func (u *Uring) complete(c *iouring.CQE) {
	if c.UserData == kickUserData {
		u.kickArmed = false
		u.kicked = true
		switch {
		case c.Res < 0 && c.Res != -int32(unix.EINTR) && c.Res != -int32(unix.EAGAIN):
			// Not re-armed here: it would fail again at once. The next
			// blocking Wait arms it again.
			u.err = fmt.Errorf("block backend: read of the kick eventfd: %w", unix.Errno(-c.Res))
		case !u.closing:
			if err := u.armKick(); err != nil {
				u.err = err
			}
		}
		return
	}
	if c.UserData >= uint64(len(u.slots)) || u.slots[c.UserData].state != slotRunning {
		u.err = fmt.Errorf("block backend: internal error: completion for user_data %#x, which is not a running request", c.UserData)
		return
	}
	i := uint32(c.UserData)
	s := &u.slots[i]
	switch s.op {
	case opRead, opWrite:
		if c.Res > 0 && s.done+uint64(c.Res) < s.req.Len {
			// Short transfer: go on with the rest, as preadv callers do.
			s.done += uint64(c.Res)
			u.issue(i)
			return
		}
		s.res = c.Res
		if c.Res >= 0 {
			s.res = int32(s.done + uint64(c.Res))
		}
	case opFallocate:
		if c.Res == 0 && s.req.Durable && !s.syncing {
			s.syncing = true
			u.issue(i)
			return
		}
		s.res = c.Res
	default:
		s.res = c.Res
	}
	u.finish(i)
}

// finish moves slot i to the ready list: bounce buffers scattered and
// released, FLUSH barriers waiting on it passed.
func (u *Uring) finish(i uint32) {
	s := &u.slots[i]
	s.state = slotReady
	if s.bounce != nil && s.bounce.n > 0 {
		u.bounce.finish(s.bounce, s.req, int64(max(s.res, 0)))
	}
	u.ready = append(u.ready, i)
	if s.writes {
		s.writes = false
		u.writesRunning--
		u.passBarriers(s.seq)
	}
}

// passBarriers tells every held FLUSH started after the write numbered seq
// that it finished, and issues those with no earlier write left.
func (u *Uring) passBarriers(seq uint64) {
	for k := 0; k < len(u.barriers); {
		f := u.barriers[k]
		s := &u.slots[f]
		if s.seq > seq {
			s.before--
			if s.before == 0 {
				u.barriers = append(u.barriers[:k], u.barriers[k+1:]...)
				s.state = slotRunning
				u.issue(f)
				continue
			}
		}
		k++
	}
}

// fileFD is f's descriptor, without f.Fd's side effect of making it
// blocking. It stays valid while f is open; the backend keeps f.
func fileFD(f *os.File) (int, error) {
	if f == nil {
		return -1, errors.New("block backend: no disk file")
	}
	rc, err := f.SyscallConn()
	if err != nil {
		return -1, fmt.Errorf("block backend: %s: %w", f.Name(), err)
	}
	fd := -1
	if err := rc.Control(func(v uintptr) { fd = int(v) }); err != nil {
		return -1, fmt.Errorf("block backend: %s: %w", f.Name(), err)
	}
	return fd, nil
}
