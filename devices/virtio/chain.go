package virtio

import (
	"encoding/binary"
	"fmt"
)

// Segment is one buffer of a descriptor chain, checked: Mem is the guest
// RAM it names (one region, no wrap, no hole), and Write says the device
// may write it.
type Segment struct {
	Addr  uint64
	Len   uint32
	Write bool
	Mem   []byte
}

// ReadChain walks the chain starting at head and appends its buffers to
// segs (pass a slice with capacity for a whole chain to avoid allocating).
// It validates as it walks, reading each descriptor from guest memory
// exactly once:
//
//   - every next index is inside the table it indexes;
//   - the chain has at most Size descriptors, and an indirect table is
//     walked at most once per entry, so a loop ends in ErrChainTooLong
//     instead of spinning;
//   - an indirect descriptor is allowed only with VIRTIO_F_INDIRECT_DESC,
//     never with NEXT, never inside an indirect table, and its table is a
//     non-zero multiple of 16 bytes, at most Size entries, in guest RAM;
//   - every buffer lies inside one region of guest RAM.
//
// The order of readable and writable buffers is the device's business
// (block checks it per request type).
func (q *Queue) ReadChain(head uint16, segs []Segment) ([]Segment, error) {
	table := q.desc
	entries := uint32(q.Size)
	idx := uint32(head)
	inIndirect := false
	for count := uint32(0); ; count++ {
		// At most one visit per entry of the table being walked: more
		// means a loop.
		if count >= entries {
			return segs, fmt.Errorf("%w: queue %d head %d", ErrChainTooLong, q.Index, head)
		}
		if idx >= entries {
			return segs, fmt.Errorf("%w: queue %d head %d: next %d of %d", ErrNextIndex, q.Index, head, idx, entries)
		}
		d := table[idx*descSize : idx*descSize+descSize]
		addr := binary.LittleEndian.Uint64(d[0:])
		length := binary.LittleEndian.Uint32(d[8:])
		flags := binary.LittleEndian.Uint16(d[12:])
		next := binary.LittleEndian.Uint16(d[14:])

		if flags&descIndirect != 0 {
			switch {
			case !q.indirect:
				return segs, fmt.Errorf("%w: queue %d head %d", ErrIndirectNotOK, q.Index, head)
			case inIndirect:
				return segs, fmt.Errorf("%w: queue %d head %d", ErrIndirectNested, q.Index, head)
			case flags&descNext != 0:
				return segs, fmt.Errorf("%w: queue %d head %d", ErrIndirectWithNext, q.Index, head)
			case length == 0 || length%descSize != 0 || length/descSize > uint32(q.Size):
				return segs, fmt.Errorf("%w: queue %d head %d: %d bytes", ErrIndirectLength, q.Index, head, length)
			}
			t, err := q.mem.Slice(addr, uint64(length))
			if err != nil {
				return segs, fmt.Errorf("%w: queue %d head %d: indirect table %#x+%#x", ErrDescriptorMemory, q.Index, head, addr, length)
			}
			// The indirect table replaces the rest of the chain and is
			// walked with a limit of its own size, as QEMU does: a table
			// of exactly Size entries is legal.
			table, entries, idx, inIndirect = t, length/descSize, 0, true
			count = ^uint32(0) // the loop's count++ makes it 0
			continue
		}
		if len(segs) >= int(q.Size) {
			// Buffers of the main chain and an indirect table together:
			// still no more than the queue size.
			return segs, fmt.Errorf("%w: queue %d head %d", ErrChainTooLong, q.Index, head)
		}
		m, err := q.mem.Slice(addr, uint64(length))
		if err != nil {
			return segs, fmt.Errorf("%w: queue %d head %d: buffer %#x+%#x", ErrDescriptorMemory, q.Index, head, addr, length)
		}
		segs = append(segs, Segment{Addr: addr, Len: length, Write: flags&descWrite != 0, Mem: m})
		if flags&descNext == 0 {
			return segs, nil
		}
		idx = uint32(next)
	}
}
