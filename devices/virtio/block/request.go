package block

import "golang.org/x/sys/unix"

// Request types (virtio 1.2, 5.2.6 "Device Operation").
const (
	TypeIn          = 0
	TypeOut         = 1
	TypeFlush       = 4
	TypeGetID       = 8
	TypeDiscard     = 11
	TypeWriteZeroes = 13
)

// Status byte values the device writes at the end of each request.
const (
	StatusOK     = 0
	StatusIOErr  = 1
	StatusUnsupp = 2
)

// SectorSize is the unit of virtio-blk sector numbers, whatever the
// image's block size.
const SectorSize = 512

// Limits the device advertises and enforces. A request beyond them is
// refused with StatusIOErr before any I/O.
const (
	// MaxSegments is SEG_MAX: data descriptors per request.
	MaxSegments = 128
	// MaxSegmentSize is SIZE_MAX: bytes per data descriptor. 1 MiB lets a
	// driver send a 1 MiB transfer from contiguous memory as one
	// descriptor; at 64 KiB a guest built and the device walked 16 for it,
	// which a slow guest paid for (docs/performance.md, Disk).
	MaxSegmentSize = 1 << 20
	// MaxDiscardSectors and MaxWriteZeroesSectors bound one range; the
	// device accepts one range per DISCARD or WRITE_ZEROES request.
	MaxDiscardSectors     = 1 << 22 // 2 GiB
	MaxWriteZeroesSectors = 1 << 22
	// IDLength is the GET_ID answer's length (VIRTIO_BLK_ID_BYTES).
	IDLength = 20
)

// Request is one guest request, parsed and checked, ready to execute. It
// describes the I/O only: the device owns the descriptor chain and the
// status byte. Requests live in a per-queue slot table and are reused, so
// the hot path allocates nothing.
type Request struct {
	Type uint32
	// Offset and Len are the byte range of the image the request covers:
	// for IN and OUT, sector*512 and the total data length; for DISCARD and
	// WRITE_ZEROES, the one range; for FLUSH and GET_ID, zero.
	Offset, Len uint64
	// Unmap is WRITE_ZEROES with VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP: the
	// device may deallocate the range instead of writing zeroes.
	Unmap bool
	// Durable asks for the write (OUT, DISCARD, WRITE_ZEROES) to be on
	// stable storage when it completes: the driver did not negotiate
	// VIRTIO_BLK_F_FLUSH, so it has no other way to ask (write-through).
	Durable bool
	// Iov are the data segments for IN and OUT, in order, pointing straight
	// into guest RAM (already bounds-checked against one RAM region each).
	// IN fills them; OUT reads them. Their backing array has room for
	// MaxSegments and stays reachable while the request is in flight.
	Iov []unix.Iovec
}
