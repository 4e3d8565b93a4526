package block

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"vmm/devices/virtio"
)

// Stats counts what a block device did and what its guest did wrong. All
// fields are safe to read at any time.
type Stats struct {
	Reads, Writes, Flushes, Discards, WriteZeroes, GetIDs atomic.Uint64
	BytesRead, BytesWritten                               atomic.Uint64
	IOErrors, Unsupported                                 atomic.Uint64
	BackendErrors                                         atomic.Uint64
	Kicks, Interrupts                                     atomic.Uint64

	mu      sync.Mutex
	byKind  map[string]uint64 // guarded by mu: protocol violations and bad requests, by error
	log     func(msg string, err error)
	window  time.Time // guarded by mu: start of the current one-second logging window
	logged  int       // guarded by mu: messages logged in it
	dropped int       // guarded by mu: messages suppressed in it
}

// logBurst is the most warnings a device logs per second: a guest that
// floods bad requests must not flood the log too.
const logBurst = 5

func newStats(log func(string, error)) *Stats {
	return &Stats{byKind: map[string]uint64{}, log: log}
}

// Guest errors by kind, for reports: "ErrHeadInFlight" style keys are the
// error text.
func (s *Stats) Kinds() map[string]uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]uint64, len(s.byKind))
	for k, v := range s.byKind {
		out[k] = v
	}
	return out
}

// Count returns how often an error of kind target was seen.
func (s *Stats) Count(target error) uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.byKind[kindOf(target)]
}

// kindOf names an error by the sentinel it wraps.
func kindOf(err error) string {
	for _, k := range knownKinds {
		if errors.Is(err, k) {
			return k.Error()
		}
	}
	return err.Error()
}

var knownKinds = []error{
	virtio.ErrAvailIndex, virtio.ErrHeadIndex, virtio.ErrHeadInFlight, virtio.ErrNextIndex, virtio.ErrChainTooLong,
	virtio.ErrIndirectNotOK, virtio.ErrIndirectLength, virtio.ErrIndirectNested, virtio.ErrIndirectWithNext,
	virtio.ErrDescriptorMemory, virtio.ErrQueueLayout, virtio.ErrQueueSize,
	virtio.ErrLiveQueueWrite, virtio.ErrFeaturesWrite, virtio.ErrStatusCleared, virtio.ErrDriverOKEarly,
	ErrNoStatus, ErrHeader, ErrStatusShared, ErrDirection, ErrUnaligned, ErrBeyondCapacity, ErrTooManySegments, ErrSegmentTooLarge,
	ErrReadOnly, ErrUnsupported, ErrRange, ErrRangeFlags, ErrBlockAlignment,
}

func (s *Stats) record(what string, err error) {
	s.mu.Lock()
	s.byKind[kindOf(err)]++
	now := time.Now()
	if now.Sub(s.window) >= time.Second {
		if s.dropped > 0 && s.log != nil {
			s.log(fmt.Sprintf("%d more guest errors not logged", s.dropped), nil)
		}
		s.window, s.logged, s.dropped = now, 0, 0
	}
	emit := s.logged < logBurst
	if emit {
		s.logged++
	} else {
		s.dropped++
	}
	s.mu.Unlock()
	if emit && s.log != nil {
		s.log(what, err)
	}
}

// flushLog reports errors whose warnings the rate limit suppressed in
// the last window, which would otherwise go unmentioned.
func (s *Stats) flushLog() {
	s.mu.Lock()
	n := s.dropped
	s.dropped = 0
	s.mu.Unlock()
	if n > 0 && s.log != nil {
		s.log(fmt.Sprintf("%d more guest errors not logged", n), nil)
	}
}

// violation counts a protocol violation (the queue stops, NEEDS_RESET).
func (s *Stats) violation(err error) {
	s.record("guest broke the virtqueue protocol: device needs a reset", err)
}

// requestError counts a request refused with a status byte.
func (s *Stats) requestError(err error, status uint8) {
	if status == StatusUnsupp {
		s.Unsupported.Add(1)
	} else {
		s.IOErrors.Add(1)
	}
	s.record("guest request refused", err)
}

// ioError counts a request that failed in the backend.
func (s *Stats) ioError(typ uint32, result int32) {
	s.IOErrors.Add(1)
	s.record("disk I/O failed", fmt.Errorf("request type %d: %w", typ, errnoOf(result)))
}

func (s *Stats) backendError(err error) {
	s.BackendErrors.Add(1)
	s.record("block backend error", err)
}

// done counts a completed request.
func (s *Stats) done(typ uint32, n uint64) {
	switch typ {
	case TypeIn:
		s.Reads.Add(1)
		s.BytesRead.Add(n)
	case TypeOut:
		s.Writes.Add(1)
		s.BytesWritten.Add(n)
	case TypeFlush:
		s.Flushes.Add(1)
	case TypeDiscard:
		s.Discards.Add(1)
	case TypeWriteZeroes:
		s.WriteZeroes.Add(1)
	}
}

// errnoOf turns a completion result into an error: short transfers (≥ 0)
// are reported as such.
func errnoOf(result int32) error {
	if result < 0 {
		return syscallErrno(-result)
	}
	return fmt.Errorf("short transfer of %d bytes", result)
}
