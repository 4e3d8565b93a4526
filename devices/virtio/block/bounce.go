package block

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"

	"vmm/zerocopy"
)

// With O_DIRECT the kernel refuses (EINVAL) a transfer unless the file
// offset and length are multiples of the file's offset alignment and every
// iovec is aligned too: its address to the memory alignment and its length
// to the logical block size, which is what the offset alignment reports
// (the kernel checks iovec lengths against the logical block size, not the
// DMA alignment). So a request is either sent to guest RAM as it is, or, if
// any one segment breaks the rule, bounced whole: one misaligned iovec fails
// the whole transfer, so bouncing only that segment would not help.
//
// A bounced request gets as many pool buffers as its length needs. OUT data
// is gathered into them before the write; IN data is scattered into the
// guest's segments after the read completes. The buffers are released when
// the completion is reaped, exactly once, whatever the result.

// Bounce pool shape, per backend (per queue). A bounced request may be at
// most bounceBuffers*bounceBufferSize bytes (2 MiB; Linux guests send at
// most 1.25 MiB by default); a longer one fails rather than waiting for a
// pool it can never fit. Linux guests send page-aligned segments, so the
// pool is mostly idle: it serves odd drivers (boot loaders, the tiny test
// kernel) and stays small, since it is populated at creation.
const (
	bounceBufferSize = 64 << 10 // independent of SIZE_MAX: a request takes as many as its length needs
	bounceBuffers    = 32
)

// errMisalignedDirect is a request that O_DIRECT cannot do at all: its
// offset or length is not a multiple of the offset alignment. The device
// advertises that alignment as BLK_SIZE, so a conforming driver never sends
// one.
var errMisalignedDirect = errors.New("request offset or length is not a multiple of the O_DIRECT offset alignment (the device's BLK_SIZE)")

// errBounceTooLong is a misaligned request longer than the whole pool.
var errBounceTooLong = fmt.Errorf("misaligned O_DIRECT request longer than the %d-byte bounce pool", bounceBuffers*bounceBufferSize)

// bouncer decides whether a request can go straight to guest RAM and, when
// not, moves it through pool buffers.
type bouncer struct {
	pool               *zerocopy.Pool
	memAlign, offAlign uint64
	bufSize            uint64
}

// bounceState is one request's share of the pool.
type bounceState struct {
	n       int // buffers held (0: not bounced)
	handles [bounceBuffers]zerocopy.Handle
	iov     [bounceBuffers]unix.Iovec
}

// bouncerFor returns the bouncer for a backend with opts, or nil when the
// file is not O_DIRECT. Alignments left 0 in opts are asked of the file
// (statx STATX_DIOALIGN).
func bouncerFor(file *os.File, opts *Options) (*bouncer, error) {
	if !opts.Direct {
		return nil, nil
	}
	if opts.MemAlign == 0 || opts.OffsetAlign == 0 {
		mem, off, err := zerocopy.DIOAlignment(file)
		if err != nil {
			return nil, fmt.Errorf("O_DIRECT alignment of %s: %w", file.Name(), err)
		}
		if opts.MemAlign == 0 {
			opts.MemAlign = mem
		}
		if opts.OffsetAlign == 0 {
			opts.OffsetAlign = off
		}
	}
	return newBouncer(opts.MemAlign, opts.OffsetAlign)
}

// newBouncer builds the pool for a file opened O_DIRECT with the given
// alignments (powers of two).
func newBouncer(memAlign, offAlign uint32) (*bouncer, error) {
	if !isPow2(memAlign) || !isPow2(offAlign) {
		return nil, fmt.Errorf("O_DIRECT alignment mem=%d offset=%d: both must be powers of two (from statx STATX_DIOALIGN)", memAlign, offAlign)
	}
	align := max(int(memAlign), zerocopy.MinAlign)
	size := roundUp(bounceBufferSize, max(align, int(offAlign)))
	pool, err := zerocopy.New(zerocopy.Config{Count: bounceBuffers, Size: size, Align: align})
	if err != nil {
		return nil, fmt.Errorf("bounce buffers for O_DIRECT: %w", err)
	}
	return &bouncer{pool: pool, memAlign: uint64(memAlign), offAlign: uint64(offAlign), bufSize: uint64(size)}, nil
}

// direct reports whether req (IN or OUT) can go to the file as it is. It
// fails when no bounce can help either.
func (b *bouncer) direct(req *Request) (bool, error) {
	if (req.Offset|req.Len)&(b.offAlign-1) != 0 {
		return false, errMisalignedDirect
	}
	for i := range req.Iov {
		v := &req.Iov[i]
		if uint64(iovAddr(v))&(b.memAlign-1) != 0 || v.Len&(b.offAlign-1) != 0 {
			if req.Len > uint64(bounceBuffers)*b.bufSize {
				return false, errBounceTooLong
			}
			return false, nil
		}
	}
	return true, nil
}

// acquire takes enough buffers for req into st and, for OUT, gathers the
// guest's data into them. With too few free it takes none and returns
// ErrBusy: buffers come back as in-flight requests complete.
func (b *bouncer) acquire(st *bounceState, req *Request) error {
	need := int((req.Len + b.bufSize - 1) / b.bufSize)
	left := req.Len
	for st.n < need {
		h, err := b.pool.Acquire()
		if err != nil {
			b.release(st)
			if errors.Is(err, zerocopy.ErrExhausted) {
				return ErrBusy
			}
			return fmt.Errorf("bounce buffer: %w", err)
		}
		buf, err := b.pool.Bytes(h)
		if err != nil {
			_ = b.pool.Release(h)
			b.release(st)
			return fmt.Errorf("bounce buffer: %w", err)
		}
		n := min(left, b.bufSize)
		left -= n
		st.handles[st.n] = h
		st.iov[st.n] = unix.Iovec{Base: &buf[0], Len: n}
		st.n++
	}
	if req.Type == TypeOut {
		copyIovecs(st.iov[:st.n], req.Iov)
	}
	return nil
}

// finish ends a bounced request: after a read that transferred n bytes it
// scatters them into the guest's segments, then releases every buffer.
func (b *bouncer) finish(st *bounceState, req *Request, n int64) {
	if req.Type == TypeIn && n > 0 {
		copyIovecs(req.Iov, truncateIovecs(st.iov[:st.n], uint64(n)))
	}
	b.release(st)
}

// release gives back every buffer st holds, once.
func (b *bouncer) release(st *bounceState) {
	for i := range st.n {
		// A Release error would mean a double release, which the
		// one-owner-per-slot structure rules out; the pool counts it in
		// Stats, where tests look.
		_ = b.pool.Release(st.handles[i])
		st.handles[i] = zerocopy.Handle{}
		st.iov[i] = unix.Iovec{}
	}
	st.n = 0
}

// close unmaps the pool; it fails while a buffer is held.
func (b *bouncer) close() error { return b.pool.Close() }

// iovecs is the bounce buffers as the iovec array to hand the kernel.
func (st *bounceState) iovecs() []unix.Iovec { return st.iov[:st.n] }

// copyIovecs copies from src's memory into dst's until either runs out.
func copyIovecs(dst, src []unix.Iovec) {
	var d, s []byte
	for {
		if len(d) == 0 {
			if len(dst) == 0 {
				return
			}
			d, dst = iovBytes(&dst[0]), dst[1:]
			continue
		}
		if len(s) == 0 {
			if len(src) == 0 {
				return
			}
			s, src = iovBytes(&src[0]), src[1:]
			continue
		}
		n := copy(d, s)
		d, s = d[n:], s[n:]
	}
}

// truncateIovecs returns iov cut to its first n bytes, trimming in place
// (the caller owns iov and releases it right after).
func truncateIovecs(iov []unix.Iovec, n uint64) []unix.Iovec {
	for i := range iov {
		if n <= iov[i].Len {
			iov[i].Len = n
			return iov[:i+1]
		}
		n -= iov[i].Len
	}
	return iov
}

func isPow2(n uint32) bool { return n != 0 && n&(n-1) == 0 }

func roundUp(n, a int) int { return (n + a - 1) / a * a }
