package block

import (
	"encoding/binary"
	"errors"
	"testing"

	"vmm/devices/virtio"
)

// seg builds a segment over fresh memory (parse never checks addresses:
// ReadChain already did).
func seg(n int, write bool) virtio.Segment {
	return virtio.Segment{Addr: 0x1000, Len: uint32(n), Write: write, Mem: make([]byte, n)}
}

func header(typ uint32, sector uint64) virtio.Segment {
	s := seg(headerSize, false)
	binary.LittleEndian.PutUint32(s.Mem[0:], typ)
	binary.LittleEndian.PutUint64(s.Mem[8:], sector)
	return s
}

func rangeSeg(sector uint64, n, flags uint32) virtio.Segment {
	s := seg(rangeSize, false)
	binary.LittleEndian.PutUint64(s.Mem[0:], sector)
	binary.LittleEndian.PutUint32(s.Mem[8:], n)
	binary.LittleEndian.PutUint32(s.Mem[12:], flags)
	return s
}

func chain(s ...virtio.Segment) []virtio.Segment { return s }

func TestParse(t *testing.T) {
	all := uint64(FeatureFlush | FeatureDiscard | FeatureWriteZeroes)
	rw := &disk{capacity: 2048, blockSize: 512, features: all}
	ro := &disk{capacity: 2048, blockSize: 512, readOnly: true, features: all}
	noFlush := &disk{capacity: 2048, blockSize: 512}
	bs4k := &disk{capacity: 2048, blockSize: 4096, features: all}
	st := seg(1, true)
	many := []virtio.Segment{header(TypeIn, 0)}
	for i := 0; i < MaxSegments+1; i++ {
		many = append(many, seg(512, true))
	}
	many = append(many, st)

	cases := []struct {
		name       string
		d          *disk
		segs       []virtio.Segment
		wantStatus uint8
		wantErr    error
		wantOffset uint64
		wantLen    uint64
		noStatus   bool
	}{
		{"read", rw, chain(header(TypeIn, 8), seg(4096, true), st), StatusOK, nil, 4096, 4096, false},
		{"multi-segment write", rw, chain(header(TypeOut, 1), seg(24, false), seg(488, false), seg(1024, false), st), StatusOK, nil, 512, 1536, false},
		{"read of the last sector", rw, chain(header(TypeIn, 2047), seg(512, true), st), StatusOK, nil, 2047 * 512, 512, false},
		{"read past capacity", rw, chain(header(TypeIn, 2047), seg(1024, true), st), StatusIOErr, ErrBeyondCapacity, 0, 0, false},
		{"sector overflowing", rw, chain(header(TypeIn, ^uint64(0)-1), seg(1024, true), st), StatusIOErr, ErrBeyondCapacity, 0, 0, false},
		{"length not a sector multiple", rw, chain(header(TypeIn, 0), seg(500, true), st), StatusIOErr, ErrUnaligned, 0, 0, false},
		{"read into device-readable buffer", rw, chain(header(TypeIn, 0), seg(512, false), st), StatusIOErr, ErrDirection, 0, 0, false},
		{"write from device-writable buffer", rw, chain(header(TypeOut, 0), seg(512, true), st), StatusIOErr, ErrDirection, 0, 0, false},
		{"write to read-only disk", ro, chain(header(TypeOut, 0), seg(512, false), st), StatusIOErr, ErrReadOnly, 0, 0, false},
		{"read from read-only disk", ro, chain(header(TypeIn, 0), seg(512, true), st), StatusOK, nil, 0, 512, false},
		{"too many segments", rw, many, StatusIOErr, ErrTooManySegments, 0, 0, false},
		{"segment above SIZE_MAX", rw, chain(header(TypeIn, 0), seg(MaxSegmentSize+512, true), st), StatusIOErr, ErrSegmentTooLarge, 0, 0, false},
		{"status not writable", rw, chain(header(TypeIn, 0), seg(512, true), seg(1, false)), 0, ErrNoStatus, 0, 0, true},
		{"status empty", rw, chain(header(TypeIn, 0), seg(512, true), seg(0, true)), 0, ErrNoStatus, 0, 0, true},
		{"empty chain", rw, nil, 0, ErrNoStatus, 0, 0, true},
		{"status sharing data", rw, chain(header(TypeIn, 0), seg(513, true)), StatusIOErr, ErrStatusShared, 0, 0, false},
		{"header too short", rw, chain(seg(8, false), seg(512, true), st), StatusIOErr, ErrHeader, 0, 0, false},
		{"header writable", rw, chain(seg(16, true), st), StatusIOErr, ErrHeader, 0, 0, false},
		{"only a status byte", rw, chain(st), StatusIOErr, ErrHeader, 0, 0, false},
		{"unknown type", rw, chain(header(99, 0), st), StatusUnsupp, ErrUnsupported, 0, 0, false},
		{"flush", rw, chain(header(TypeFlush, 0), st), StatusOK, nil, 0, 0, false},
		{"flush not negotiated", noFlush, chain(header(TypeFlush, 0), st), StatusUnsupp, ErrUnsupported, 0, 0, false},
		{"get id", rw, chain(header(TypeGetID, 0), seg(20, true), st), StatusOK, nil, 0, 0, false},
		{"get id into readable buffer", rw, chain(header(TypeGetID, 0), seg(20, false), st), StatusIOErr, ErrDirection, 0, 0, false},
		{"discard", rw, chain(header(TypeDiscard, 0), rangeSeg(8, 16, 0), st), StatusOK, nil, 4096, 8192, false},
		{"discard with unmap flag", rw, chain(header(TypeDiscard, 0), rangeSeg(8, 16, flagUnmap), st), StatusUnsupp, ErrRangeFlags, 0, 0, false},
		{"write zeroes with unmap", rw, chain(header(TypeWriteZeroes, 0), rangeSeg(8, 16, flagUnmap), st), StatusOK, nil, 4096, 8192, false},
		{"write zeroes unknown flag", rw, chain(header(TypeWriteZeroes, 0), rangeSeg(8, 16, 2), st), StatusUnsupp, ErrRangeFlags, 0, 0, false},
		{"discard past capacity", rw, chain(header(TypeDiscard, 0), rangeSeg(2040, 16, 0), st), StatusIOErr, ErrBeyondCapacity, 0, 0, false},
		{"discard overflowing", rw, chain(header(TypeDiscard, 0), rangeSeg(^uint64(0)-4, 16, 0), st), StatusIOErr, ErrBeyondCapacity, 0, 0, false},
		{"two ranges", rw, chain(header(TypeDiscard, 0), seg(32, false), st), StatusUnsupp, ErrRange, 0, 0, false},
		{"range truncated", rw, chain(header(TypeDiscard, 0), seg(12, false), st), StatusIOErr, ErrRange, 0, 0, false},
		{"range writable", rw, chain(header(TypeDiscard, 0), seg(16, true), st), StatusIOErr, ErrRange, 0, 0, false},
		{"discard on read-only disk", ro, chain(header(TypeDiscard, 0), rangeSeg(0, 8, 0), st), StatusIOErr, ErrReadOnly, 0, 0, false},
		{"discard not negotiated", noFlush, chain(header(TypeDiscard, 0), rangeSeg(0, 8, 0), st), StatusUnsupp, ErrUnsupported, 0, 0, false},
		{"range off the 4K block grid", bs4k, chain(header(TypeWriteZeroes, 0), rangeSeg(1, 8, 0), st), StatusIOErr, ErrBlockAlignment, 0, 0, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var req Request
			var p parsed
			status, err := parse(c.segs, c.d, &req, &p)
			if !errors.Is(err, c.wantErr) || (c.wantErr != nil && err == nil) {
				t.Fatalf("err %v, want %v", err, c.wantErr)
			}
			if (p.status == nil) != c.noStatus {
				t.Fatalf("status byte found = %v, want %v", p.status != nil, !c.noStatus)
			}
			if err != nil {
				if !c.noStatus && status != c.wantStatus {
					t.Fatalf("status %d, want %d", status, c.wantStatus)
				}
				return
			}
			if req.Offset != c.wantOffset || req.Len != c.wantLen {
				t.Fatalf("offset %d len %d, want %d %d", req.Offset, req.Len, c.wantOffset, c.wantLen)
			}
			if req.Type == TypeIn || req.Type == TypeOut {
				var n uint64
				for _, v := range req.Iov {
					n += v.Len
				}
				if n != req.Len || len(req.Iov) != len(c.segs)-2 {
					t.Fatalf("iovecs cover %d bytes in %d entries", n, len(req.Iov))
				}
			}
		})
	}
}

// FuzzParse: whatever the guest puts in a chain, parse never panics,
// never accepts I/O beyond capacity, and never builds more iovecs than
// SEG_MAX.
func FuzzParse(f *testing.F) {
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0}, []byte{0, 2, 1}, uint8(3), uint64(2048), true)
	f.Add([]byte{11, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, []byte{16, 0, 0}, uint8(1), uint64(64), false)
	f.Fuzz(func(t *testing.T, hdr []byte, lens []byte, dirs uint8, capacity uint64, ro bool) {
		segs := []virtio.Segment{{Len: uint32(len(hdr)), Mem: hdr, Write: dirs&1 != 0}}
		for i, l := range lens {
			n := int(l) * 64
			segs = append(segs, virtio.Segment{Len: uint32(n), Mem: make([]byte, n), Write: dirs>>(uint(i)%8)&2 != 0})
		}
		d := &disk{capacity: capacity, blockSize: 512, readOnly: ro, features: FeatureFlush | FeatureDiscard | FeatureWriteZeroes}
		var req Request
		var p parsed
		_, err := parse(segs, d, &req, &p)
		if err != nil {
			return
		}
		if (req.Type == TypeIn || req.Type == TypeOut) && (req.Offset/SectorSize+req.Len/SectorSize > capacity || len(req.Iov) > MaxSegments) {
			t.Fatalf("accepted %+v on a disk of %d sectors", req, capacity)
		}
		if ro && (req.Type == TypeOut || req.Type == TypeDiscard || req.Type == TypeWriteZeroes) {
			t.Fatal("accepted a write on a read-only disk")
		}
	})
}
