package block

import (
	"encoding/binary"
	"errors"

	"vmm/devices/virtio"
)

// Request-level errors: the chain was well formed, the request is not.
// Each ends the request with a status byte (IOERR or UNSUPP) and is counted
// by kind; none stops the device.
var (
	ErrNoStatus        = errors.New("no device-writable status byte at the end of the chain")
	ErrHeader          = errors.New("request header not a device-readable 16-byte first descriptor")
	ErrStatusShared    = errors.New("status descriptor longer than the one status byte")
	ErrDirection       = errors.New("data descriptor direction wrong for the request type")
	ErrUnaligned       = errors.New("data length not a multiple of 512 bytes")
	ErrBeyondCapacity  = errors.New("sectors beyond the disk's capacity")
	ErrTooManySegments = errors.New("more data descriptors than SEG_MAX")
	ErrSegmentTooLarge = errors.New("data descriptor larger than SIZE_MAX")
	ErrReadOnly        = errors.New("write to a read-only disk")
	ErrUnsupported     = errors.New("request type not supported or not negotiated")
	ErrRange           = errors.New("discard or write-zeroes range malformed")
	ErrRangeFlags      = errors.New("discard or write-zeroes flags not supported")
	ErrBlockAlignment  = errors.New("range not aligned to the disk's block size")
)

// headerSize is struct virtio_blk_req's header: type, reserved, sector.
const headerSize = 16

// rangeSize is struct virtio_blk_discard_write_zeroes.
const rangeSize = 16

// flagUnmap is VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP.
const flagUnmap = 1

// parsed is what parse found besides the Request.
type parsed struct {
	status   []byte // the status byte in guest RAM (nil: none found)
	writable uint32 // device-writable data bytes (for the used length)
	data     []virtio.Segment
}

// disk is what parse checks requests against.
type disk struct {
	capacity  uint64 // sectors
	blockSize uint32
	readOnly  bool
	features  uint64 // negotiated
	unsafe    bool   // Config.Unsafe: writes never need to be durable
}

// parse turns a descriptor chain (already walked and bounds-checked by
// virtio.Queue.ReadChain) into req. Layout (5.2.6): a device-readable
// 16-byte header descriptor, the data descriptors, and a status byte as
// the last byte of the last descriptor, which must be device-writable.
// It does no I/O. A nil error means req is ready to execute; otherwise the
// returned status (IOERR or UNSUPP) completes the request, if p.status is
// not nil, and the error says why.
func parse(segs []virtio.Segment, d *disk, req *Request, p *parsed) (status uint8, err error) {
	*p = parsed{}
	req.Type, req.Offset, req.Len, req.Unmap = 0, 0, 0, false
	req.Iov = req.Iov[:0]
	if len(segs) == 0 {
		return StatusIOErr, ErrNoStatus
	}
	last := segs[len(segs)-1]
	if !last.Write || last.Len == 0 {
		return StatusIOErr, ErrNoStatus
	}
	p.status = last.Mem[last.Len-1 : last.Len]
	if last.Len != 1 {
		return StatusIOErr, ErrStatusShared
	}
	if len(segs) < 2 {
		return StatusIOErr, ErrHeader
	}
	h := segs[0]
	if h.Write || h.Len != headerSize {
		return StatusIOErr, ErrHeader
	}
	typ := binary.LittleEndian.Uint32(h.Mem[0:])
	sector := binary.LittleEndian.Uint64(h.Mem[8:])
	req.Type = typ
	p.data = segs[1 : len(segs)-1]

	switch typ {
	case TypeIn, TypeOut:
		return parseRW(typ, sector, d, req, p)
	case TypeFlush:
		if d.features&FeatureFlush == 0 {
			return StatusUnsupp, ErrUnsupported
		}
		if len(p.data) != 0 {
			return StatusIOErr, ErrDirection
		}
		return StatusOK, nil
	case TypeGetID:
		for _, s := range p.data {
			if !s.Write {
				return StatusIOErr, ErrDirection
			}
			p.writable += s.Len
		}
		p.writable = min(p.writable, IDLength)
		return StatusOK, nil
	case TypeDiscard, TypeWriteZeroes:
		return parseRange(typ, d, req, p)
	}
	return StatusUnsupp, ErrUnsupported
}

func parseRW(typ uint32, sector uint64, d *disk, req *Request, p *parsed) (uint8, error) {
	if typ == TypeOut && d.readOnly {
		return StatusIOErr, ErrReadOnly
	}
	if len(p.data) > MaxSegments {
		return StatusIOErr, ErrTooManySegments
	}
	var total uint64
	for _, s := range p.data {
		if s.Write != (typ == TypeIn) {
			return StatusIOErr, ErrDirection
		}
		if s.Len > MaxSegmentSize {
			return StatusIOErr, ErrSegmentTooLarge
		}
		total += uint64(s.Len)
	}
	if total%SectorSize != 0 {
		return StatusIOErr, ErrUnaligned
	}
	if sector > d.capacity || total/SectorSize > d.capacity-sector {
		return StatusIOErr, ErrBeyondCapacity
	}
	req.Offset, req.Len = sector*SectorSize, total
	for _, s := range p.data {
		req.Iov = appendIovec(req.Iov, s.Mem)
	}
	if typ == TypeIn {
		p.writable = uint32(total)
	}
	return StatusOK, nil
}

func parseRange(typ uint32, d *disk, req *Request, p *parsed) (uint8, error) {
	feature := uint64(FeatureDiscard)
	if typ == TypeWriteZeroes {
		feature = FeatureWriteZeroes
	}
	if d.features&feature == 0 {
		return StatusUnsupp, ErrUnsupported
	}
	if d.readOnly {
		return StatusIOErr, ErrReadOnly
	}
	// One range, in one device-readable descriptor (max_*_seg is 1).
	if len(p.data) != 1 || p.data[0].Write || p.data[0].Len%rangeSize != 0 || p.data[0].Len == 0 {
		return StatusIOErr, ErrRange
	}
	if p.data[0].Len != rangeSize {
		return StatusUnsupp, ErrRange
	}
	r := p.data[0].Mem
	sector := binary.LittleEndian.Uint64(r[0:])
	n := uint64(binary.LittleEndian.Uint32(r[8:]))
	flags := binary.LittleEndian.Uint32(r[12:])
	switch {
	case flags&^flagUnmap != 0, typ == TypeDiscard && flags&flagUnmap != 0:
		// 5.2.6.2: unknown flags, or unmap on a discard, are UNSUPP.
		return StatusUnsupp, ErrRangeFlags
	case typ == TypeDiscard && n > MaxDiscardSectors, typ == TypeWriteZeroes && n > MaxWriteZeroesSectors:
		return StatusIOErr, ErrRange
	case sector > d.capacity || n > d.capacity-sector:
		return StatusIOErr, ErrBeyondCapacity
	}
	if bs := uint64(d.blockSize / SectorSize); bs > 1 && (sector%bs != 0 || n%bs != 0) {
		return StatusIOErr, ErrBlockAlignment
	}
	req.Offset, req.Len, req.Unmap = sector*SectorSize, n*SectorSize, flags&flagUnmap != 0
	return StatusOK, nil
}
