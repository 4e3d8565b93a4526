package block

import (
	"fmt"
	"math"

	"golang.org/x/sys/unix"
)

// operation is what a backend does to the image for one request.
type operation uint8

const (
	opRead      operation = iota + 1 // preadv / READV into req.Iov
	opWrite                          // pwritev / WRITEV from req.Iov
	opFlush                          // fdatasync
	opFallocate                      // fallocate(mode) over [Offset, Offset+Len)
)

// plan is a request checked and turned into one operation, or into a result
// known without any I/O.
type plan struct {
	op   operation
	mode uint32 // fallocate mode for opFallocate
	// immediate: report result at once, with no I/O.
	immediate bool
	result    int32
}

// maxTransfer is the largest IN or OUT the device can build (SEG_MAX
// segments of SIZE_MAX bytes); it also keeps byte counts within a CQE's
// int32 result.
const maxTransfer = MaxSegments * MaxSegmentSize

// planRequest checks req (defence in depth: the device has validated it
// against the guest already) and picks the operation. An error fails this
// request alone.
func planRequest(req *Request, opts *Options) (plan, error) {
	if req.Offset > math.MaxInt64-req.Len {
		return plan{}, fmt.Errorf("request range %#x+%#x overflows a file offset", req.Offset, req.Len)
	}
	writes := req.Type == TypeOut || req.Type == TypeDiscard || req.Type == TypeWriteZeroes
	if writes && opts.ReadOnly {
		return plan{immediate: true, result: -int32(unix.EROFS)}, nil
	}
	switch req.Type {
	case TypeIn, TypeOut:
		if len(req.Iov) > MaxSegments || req.Len > maxTransfer {
			return plan{}, fmt.Errorf("request of %d bytes in %d segments: over the device's limits (%d segments, %d bytes)", req.Len, len(req.Iov), MaxSegments, maxTransfer)
		}
		var sum uint64
		for i := range req.Iov {
			sum += req.Iov[i].Len
		}
		if sum != req.Len {
			return plan{}, fmt.Errorf("request segments total %d bytes, but its length is %d", sum, req.Len)
		}
		if req.Len == 0 {
			return plan{immediate: true}, nil
		}
		if req.Type == TypeIn {
			return plan{op: opRead}, nil
		}
		return plan{op: opWrite}, nil
	case TypeFlush:
		return plan{op: opFlush}, nil
	case TypeDiscard, TypeWriteZeroes:
		if req.Len > MaxDiscardSectors*SectorSize {
			return plan{}, fmt.Errorf("range of %d bytes: over the device's limit of %d", req.Len, MaxDiscardSectors*SectorSize)
		}
		if req.Len == 0 {
			return plan{immediate: true}, nil
		}
		mode := uint32(unix.FALLOC_FL_PUNCH_HOLE | unix.FALLOC_FL_KEEP_SIZE)
		if req.Type == TypeWriteZeroes && !req.Unmap {
			mode = unix.FALLOC_FL_ZERO_RANGE | unix.FALLOC_FL_KEEP_SIZE
		}
		return plan{op: opFallocate, mode: mode}, nil
	}
	return plan{}, fmt.Errorf("request type %d is not executed by a backend", req.Type)
}

// maxQueueSize is the largest Options.QueueSize.
const maxQueueSize = 32767

// checkOptions validates what every backend needs.
func checkOptions(opts *Options) error {
	// The io_uring backend needs QueueSize+1 SQ entries, at most 32768.
	if opts.QueueSize < 1 || opts.QueueSize > maxQueueSize {
		return fmt.Errorf("block backend: QueueSize %d: want 1..%d (the virtqueue size)", opts.QueueSize, maxQueueSize)
	}
	return nil
}
