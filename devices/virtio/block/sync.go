package block

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// Sync is the fallback backend for hosts without a usable io_uring (a
// kernel without it, kernel.io_uring_disabled, a seccomp filter): Start
// runs preadv2, pwritev2, fdatasync or fallocate on the worker goroutine,
// and the next Wait reports the result. Wait sleeps in poll(2) on the kick
// eventfd when nothing is pending. One request at a time reaches the disk,
// so it is much slower at queue depths above 1; it exists to keep a guest
// running, not to be fast.
type Sync struct {
	file   *os.File
	fd     int
	kickFD int
	opts   Options
	bounce *bouncer
	bst    bounceState // requests run one at a time: one set of buffers

	pending []Completion // executed, not yet reported; cap QueueSize
	cont    []unix.Iovec // the remainder after a short transfer
	kickBuf [8]byte      // eventfd counter read into here
	pfd     [1]unix.PollFd
	closed  bool
}

// NewSync sets up the synchronous backend for one queue of file. kickFD
// is the queue's ioeventfd, created and closed by the caller.
func NewSync(file *os.File, kickFD int, opts Options) (*Sync, error) {
	if err := checkOptions(&opts); err != nil {
		return nil, err
	}
	fd, err := fileFD(file)
	if err != nil {
		return nil, err
	}
	b, err := bouncerFor(file, &opts)
	if err != nil {
		return nil, err
	}
	return &Sync{
		file: file, fd: fd, kickFD: kickFD, opts: opts, bounce: b,
		pending: make([]Completion, 0, opts.QueueSize),
		cont:    make([]unix.Iovec, 0, MaxSegments),
		pfd:     [1]unix.PollFd{{Fd: int32(kickFD), Events: unix.POLLIN}},
	}, nil
}

// Name is the backend's name for logs.
func (s *Sync) Name() string { return "sync" }

// InFlight is the number of requests executed and not yet reported.
func (s *Sync) InFlight() int { return len(s.pending) }

// Start executes req now; its result is reported by the next Wait.
func (s *Sync) Start(tag uint64, req *Request) error {
	if len(s.pending) == cap(s.pending) {
		return ErrBusy
	}
	p, err := planRequest(req, &s.opts)
	if err != nil {
		return err
	}
	res := p.result
	if !p.immediate {
		if res, err = s.execute(req, p); err != nil {
			return err
		}
	}
	s.pending = append(s.pending, Completion{Tag: tag, Result: res})
	return nil
}

// execute runs one planned request and returns its result (bytes or
// -errno). An error means it could not be tried at all.
func (s *Sync) execute(req *Request, p plan) (int32, error) {
	switch p.op {
	case opRead, opWrite:
		iov := req.Iov
		if s.bounce != nil {
			direct, err := s.bounce.direct(req)
			if err != nil {
				return 0, err
			}
			if !direct {
				if err := s.bounce.acquire(&s.bst, req); err != nil {
					return 0, err
				}
				iov = s.bst.iovecs()
			}
		}
		res := s.transfer(p.op, iov, req.Offset, req.Len, req.Durable)
		if s.bst.n > 0 {
			s.bounce.finish(&s.bst, req, int64(max(res, 0)))
		}
		return res, nil
	case opFlush:
		return errnoResult(ignoringEINTR(func() error { return unix.Fdatasync(s.fd) })), nil
	case opFallocate:
		err := ignoringEINTR(func() error {
			return unix.Fallocate(s.fd, p.mode, int64(req.Offset), int64(req.Len))
		})
		if err == nil && req.Durable {
			err = ignoringEINTR(func() error { return unix.Fdatasync(s.fd) })
		}
		return errnoResult(err), nil
	}
	return 0, fmt.Errorf("block backend: internal error: operation %d", p.op)
}

// transfer reads or writes n bytes at off through iov, continuing after
// short transfers, and returns the byte count or -errno. A durable write
// is a datasync write (RWF_DSYNC).
func (s *Sync) transfer(op operation, iov []unix.Iovec, off, n uint64, durable bool) int32 {
	flags := 0
	if op == opWrite && durable {
		flags = unix.RWF_DSYNC
	}
	var done uint64
	for done < n {
		cur := iov
		if done > 0 {
			s.cont = skipIovecs(s.cont[:0], iov, done)
			cur = s.cont
		}
		var k int
		var err error
		for {
			if op == opRead {
				k, err = sysPreadv2(s.fd, cur, int64(off+done), 0)
			} else {
				k, err = sysPwritev2(s.fd, cur, int64(off+done), flags)
			}
			if err != unix.EINTR {
				break
			}
		}
		if err != nil {
			return errnoResult(err)
		}
		if k == 0 {
			break // end of file: report the short count
		}
		done += uint64(k)
	}
	return int32(done)
}

// Submit does nothing: Start already ran the request.
func (s *Sync) Submit() error { return nil }

// Wait reports executed requests (up to cap(done)) and whether the kick
// fired. With block set and nothing pending it sleeps in poll(2) on the
// kick eventfd.
func (s *Sync) Wait(done []Completion, block bool) ([]Completion, bool, error) {
	n := min(cap(done)-len(done), len(s.pending))
	done = append(done, s.pending[:n]...)
	s.pending = s.pending[:copy(s.pending, s.pending[n:])]
	kicked, err := s.pollKick(block && n == 0 && len(s.pending) == 0)
	return done, kicked, err
}

// pollKick reports whether the kick eventfd fired and, if so, resets it.
// With wait set it sleeps until it fires.
func (s *Sync) pollKick(wait bool) (bool, error) {
	timeout := 0
	if wait {
		timeout = -1
	}
	for {
		s.pfd[0].Revents = 0
		n, err := unix.Poll(s.pfd[:], timeout)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return false, fmt.Errorf("block backend: poll the kick eventfd: %w", err)
		}
		if n == 0 {
			return false, nil
		}
		if s.pfd[0].Revents&(unix.POLLERR|unix.POLLNVAL) != 0 {
			return false, fmt.Errorf("block backend: kick eventfd %d: poll revents %#x", s.kickFD, s.pfd[0].Revents)
		}
		break
	}
	// Readable: this read cannot block. EAGAIN (someone else read it
	// first) still counts as a kick: the worker looks at the queue anyway.
	_, err := unix.Read(s.kickFD, s.kickBuf[:])
	if err != nil && err != unix.EAGAIN && err != unix.EINTR {
		return true, fmt.Errorf("block backend: read the kick eventfd: %w", err)
	}
	return true, nil
}

// Wake makes a blocked Wait return with kicked set. Any goroutine may call it.
func (s *Sync) Wake() error { return signalEventfd(s.kickFD) }

// Close releases the bounce pool. Preconditions: InFlight() == 0.
func (s *Sync) Close() error {
	if s.closed {
		return nil
	}
	if n := s.InFlight(); n > 0 {
		return fmt.Errorf("block backend: close with %d requests in flight; reap their completions first", n)
	}
	s.closed = true
	if s.bounce != nil {
		return s.bounce.close()
	}
	return nil
}

// errnoResult is a Completion.Result for err: 0, or -errno.
func errnoResult(err error) int32 {
	if err == nil {
		return 0
	}
	if errno, ok := err.(unix.Errno); ok {
		return -int32(errno)
	}
	return -int32(unix.EIO)
}

// ignoringEINTR retries fn while it fails with EINTR (Go's preemption
// signal interrupts slow system calls).
func ignoringEINTR(fn func() error) error {
	for {
		if err := fn(); err != unix.EINTR {
			return err
		}
	}
}
