package block

import (
	"encoding/binary"
	"os"

	"golang.org/x/sys/unix"
)

// Interim is a minimal synchronous backend used until the io_uring and
// sync backends land; it will be removed then. It runs each request in
// Start with preadv/pwritev/fdatasync/fallocate.
type Interim struct {
	f       *os.File
	kick    int
	pending []Completion
}

// NewInterim returns an interim backend for f, woken by kickFD.
func NewInterim(f *os.File, kickFD int) *Interim { return &Interim{f: f, kick: kickFD} }

func (b *Interim) Name() string  { return "interim-sync" }
func (b *Interim) InFlight() int { return len(b.pending) }
func (b *Interim) Submit() error { return nil }
func (b *Interim) Close() error  { return nil }

func (b *Interim) Wake() error {
	var v [8]byte
	binary.LittleEndian.PutUint64(v[:], 1)
	_, err := unix.Write(b.kick, v[:])
	return err
}

func (b *Interim) Start(tag uint64, r *Request) error {
	fd := int(b.f.Fd())
	res := int32(0)
	var err error
	var n int
	switch r.Type {
	case TypeIn:
		n, err = preadvAll(fd, r)
		res = int32(n)
	case TypeOut:
		n, err = pwritevAll(fd, r)
		res = int32(n)
		if err == nil && r.Durable {
			err = unix.Fdatasync(fd)
		}
	case TypeFlush:
		err = unix.Fdatasync(fd)
	case TypeDiscard:
		err = unix.Fallocate(fd, unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, int64(r.Offset), int64(r.Len))
	case TypeWriteZeroes:
		mode := uint32(unix.FALLOC_FL_ZERO_RANGE | unix.FALLOC_FL_KEEP_SIZE)
		if r.Unmap {
			mode = unix.FALLOC_FL_PUNCH_HOLE | unix.FALLOC_FL_KEEP_SIZE
		}
		err = unix.Fallocate(fd, mode, int64(r.Offset), int64(r.Len))
	}
	if err != nil {
		if e, ok := err.(unix.Errno); ok {
			res = -int32(e)
		} else {
			res = -int32(unix.EIO)
		}
	}
	b.pending = append(b.pending, Completion{Tag: tag, Result: res})
	return nil
}

func preadvAll(fd int, r *Request) (int, error) {
	bufs := make([][]byte, len(r.Iov))
	for i, v := range r.Iov {
		bufs[i] = unsafeSlice(v)
	}
	return unix.Preadv(fd, bufs, int64(r.Offset))
}

func pwritevAll(fd int, r *Request) (int, error) {
	bufs := make([][]byte, len(r.Iov))
	for i, v := range r.Iov {
		bufs[i] = unsafeSlice(v)
	}
	return unix.Pwritev(fd, bufs, int64(r.Offset))
}

func (b *Interim) Wait(done []Completion, block bool) ([]Completion, bool, error) {
	if len(b.pending) > 0 {
		done = append(done, b.pending...)
		b.pending = b.pending[:0]
		return done, b.drainKick(false), nil
	}
	return done, b.drainKick(block), nil
}

func (b *Interim) drainKick(block bool) bool {
	if block {
		fds := []unix.PollFd{{Fd: int32(b.kick), Events: unix.POLLIN}}
		for {
			_, err := unix.Poll(fds, -1)
			if err != unix.EINTR {
				break
			}
		}
	}
	var v [8]byte
	n, _ := unix.Read(b.kick, v[:])
	return n == 8
}
