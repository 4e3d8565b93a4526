package virtio

import (
	"encoding/binary"
	"fmt"

	"vmm/guestmem"
)

// Queue is one split virtqueue (2.7). The transport fills in the
// driver-configured fields under its lock before activation; after
// Activate, exactly one goroutine (the device's queue worker) uses it.
//
// Ring layout in guest memory, for a queue of Size entries:
//
//	descriptor table  Size × {addr u64, len u32, flags u16, next u16}, 16-byte aligned
//	available ring    flags u16, idx u16, ring[Size] u16, used_event u16; 2-byte aligned
//	used ring         flags u16, idx u16, ring[Size] {id u32, len u32}, avail_event u16; 4-byte aligned
type Queue struct {
	Index   int
	MaxSize uint16

	// Driver-configured through the transport.
	Size                             uint16
	Ready                            bool
	DescAddr, DriverAddr, DeviceAddr uint64

	// Runtime state, set by Activate.
	mem                   *guestmem.Memory
	desc, avail, used     []byte
	eventIdx, indirect    bool
	nextAvail, nextUsed   uint16
	signalledUsed         uint16 // used idx when the driver was last interrupted
	signalledValid        bool
	inFlight              []bool // by head index: popped, not yet returned
	availEventOff, usedEv int    // offsets of avail_event (in used) and used_event (in avail)
}

// Reset forgets the driver's configuration and all runtime state.
func (q *Queue) Reset() {
	*q = Queue{Index: q.Index, MaxSize: q.MaxSize}
}

// Activate checks the driver's ring configuration against guest RAM and the
// spec and binds the queue to it. It fails with ErrQueueSize or
// ErrQueueLayout, which the device answers with DEVICE_NEEDS_RESET.
func (q *Queue) Activate(mem *guestmem.Memory, features uint64) error {
	n := uint64(q.Size)
	if n == 0 || n > uint64(q.MaxSize) || n&(n-1) != 0 {
		return fmt.Errorf("%w: queue %d size %d (max %d)", ErrQueueSize, q.Index, q.Size, q.MaxSize)
	}
	descLen, availLen, usedLen := 16*n, 6+2*n, 6+8*n
	switch {
	case q.DescAddr%16 != 0, q.DriverAddr%2 != 0, q.DeviceAddr%4 != 0:
		return fmt.Errorf("%w: queue %d ring addresses %#x/%#x/%#x not aligned 16/2/4", ErrQueueLayout, q.Index, q.DescAddr, q.DriverAddr, q.DeviceAddr)
	case overlaps(q.DeviceAddr, usedLen, q.DescAddr, descLen), overlaps(q.DeviceAddr, usedLen, q.DriverAddr, availLen):
		// The device writes the used ring: over the descriptors or the
		// available ring it would corrupt what it is about to read.
		return fmt.Errorf("%w: queue %d used ring %#x+%#x overlaps the descriptor table or available ring", ErrQueueLayout, q.Index, q.DeviceAddr, usedLen)
	}
	var err error
	if q.desc, err = mem.Slice(q.DescAddr, descLen); err != nil {
		return fmt.Errorf("%w: queue %d descriptor table: %v", ErrQueueLayout, q.Index, err)
	}
	if q.avail, err = mem.Slice(q.DriverAddr, availLen); err != nil {
		return fmt.Errorf("%w: queue %d available ring: %v", ErrQueueLayout, q.Index, err)
	}
	if q.used, err = mem.Slice(q.DeviceAddr, usedLen); err != nil {
		return fmt.Errorf("%w: queue %d used ring: %v", ErrQueueLayout, q.Index, err)
	}
	q.mem = mem
	q.eventIdx = features&FeatureEventIdx != 0
	q.indirect = features&FeatureIndirectDesc != 0
	q.usedEv = int(4 + 2*n)
	q.availEventOff = int(4 + 8*n)
	q.inFlight = make([]bool, n)
	// The device starts from whatever indices the driver left: 0 after a
	// reset, as the spec requires of a fresh queue.
	q.nextAvail, q.nextUsed = 0, 0
	return nil
}

// overlaps reports whether [a, a+alen) and [b, b+blen) intersect; the
// lengths are small and the addresses were or will be checked against RAM,
// but wrap-around is handled anyway.
func overlaps(a, alen, b, blen uint64) bool {
	aEnd, bEnd := a+alen, b+blen
	if aEnd < a || bEnd < b {
		return true
	}
	return a < bEnd && b < aEnd
}

// Pop returns the next available descriptor head. ok is false when the
// driver has made nothing new available. An available index that moved by
// more than the queue size, a head out of range and a head already in
// flight are protocol violations (ErrAvailIndex, ErrHeadIndex,
// ErrHeadInFlight).
func (q *Queue) Pop() (head uint16, ok bool, err error) {
	idx, err := guestmem.LoadUint16(q.avail, 2)
	if err != nil {
		return 0, false, err
	}
	pending := idx - q.nextAvail
	if pending == 0 {
		return 0, false, nil
	}
	if pending > q.Size {
		return 0, false, fmt.Errorf("%w: queue %d avail idx %d, device at %d, size %d", ErrAvailIndex, q.Index, idx, q.nextAvail, q.Size)
	}
	// The load of avail.idx above is an acquire: the ring entry it
	// published is visible now.
	slot := int(q.nextAvail % q.Size)
	head = binary.LittleEndian.Uint16(q.avail[4+2*slot:])
	if head >= q.Size {
		return 0, false, fmt.Errorf("%w: queue %d head %d, size %d", ErrHeadIndex, q.Index, head, q.Size)
	}
	if q.inFlight[head] {
		return 0, false, fmt.Errorf("%w: queue %d head %d", ErrHeadInFlight, q.Index, head)
	}
	q.inFlight[head] = true
	q.nextAvail++
	return head, true, nil
}

// AddUsed returns head to the driver with n bytes written, without
// publishing it: call PublishUsed after a batch.
func (q *Queue) AddUsed(head uint16, n uint32) {
	slot := int(q.nextUsed % q.Size)
	e := q.used[4+8*slot : 4+8*slot+8]
	binary.LittleEndian.PutUint32(e[0:], uint32(head))
	binary.LittleEndian.PutUint32(e[4:], n)
	q.inFlight[head] = false
	q.nextUsed++
}

// PublishUsed makes the entries added since the last call visible to the
// driver: the used.idx store is a release.
func (q *Queue) PublishUsed() {
	_ = guestmem.StoreUint16(q.used, 2, q.nextUsed)
}

// NeedsInterrupt reports whether the driver asked to be interrupted for
// the used entries published since the last interrupt: with EVENT_IDX,
// when used.idx has passed used_event; otherwise unless the driver set
// VIRTQ_AVAIL_F_NO_INTERRUPT. Call it after PublishUsed; a true answer
// counts as the interrupt being sent.
func (q *Queue) NeedsInterrupt() bool {
	if q.eventIdx {
		old := q.signalledUsed
		valid := q.signalledValid
		q.signalledUsed, q.signalledValid = q.nextUsed, true
		if !valid {
			return true
		}
		ev, _ := guestmem.LoadUint16(q.avail, q.usedEv)
		return needEvent(ev, q.nextUsed, old)
	}
	flags, _ := guestmem.LoadUint16(q.avail, 0)
	return flags&availNoInterrupt == 0
}

// needEvent is vring_need_event: whether moving an index from old to new
// crossed event (2.7.10, the event_idx rule), in 16-bit arithmetic.
func needEvent(event, new, old uint16) bool {
	return new-event-1 < new-old
}

// DisableNotify asks the driver not to notify while the device is busy
// draining the queue: with EVENT_IDX there is nothing to do (avail_event
// stays behind); otherwise VIRTQ_USED_F_NO_NOTIFY is set.
func (q *Queue) DisableNotify() {
	if !q.eventIdx {
		_ = guestmem.StoreUint16(q.used, 0, usedNoNotify)
	}
}

// EnableNotify asks the driver to notify for anything it adds from now on
// (avail_event = next index, or the flag cleared), then reports whether it
// already added something meanwhile: the caller must drain again if so,
// or a request made between its last Pop and this call would wait for a
// notification that never comes.
func (q *Queue) EnableNotify() (more bool) {
	if q.eventIdx {
		_ = guestmem.StoreUint16(q.used, q.availEventOff, q.nextAvail)
	} else {
		_ = guestmem.StoreUint16(q.used, 0, 0)
	}
	idx, _ := guestmem.LoadUint16(q.avail, 2)
	return idx != q.nextAvail
}

// InFlight reports how many heads are popped and not yet returned.
func (q *Queue) InFlight() int { return int(q.nextAvail - q.nextUsed) }

// Memory is the guest RAM the queue was activated on.
func (q *Queue) Memory() *guestmem.Memory { return q.mem }
