//go:build linux

package iouring

import (
	"bytes"
	"encoding/binary"
	"testing"
)

// FuzzRingOps drives a ring through a random sequence of GetSQE/Submit/reap
// operations and checks it against a model: the SQ is full exactly when the
// model says so, and every prepared NOP completes exactly once, even when
// the CQ (as small as the SQ) overflows.
func FuzzRingOps(f *testing.F) {
	f.Add(uint8(4), uint8(0), []byte{0, 0, 0, 0, 0, 1, 2, 3})
	f.Add(uint8(1), uint8(1), []byte{0, 0, 1, 0, 1, 0, 1, 3, 3})
	f.Add(uint8(8), uint8(0), bytes.Repeat([]byte{0, 0, 0, 0, 0, 0, 0, 0, 1}, 8))
	f.Add(uint8(16), uint8(3), []byte{0, 4, 0, 0, 2, 1, 4, 3, 0, 1, 2, 2, 2})
	f.Add(uint8(2), uint8(0), bytes.Repeat([]byte{0, 0, 1}, 40))
	f.Fuzz(func(t *testing.T, entries, cqShift uint8, ops []byte) {
		sq := uint32(1) << (entries % 5) // 1..16
		r := newRing(t, sq, &Params{CQEntries: sq << (cqShift % 3)})
		if len(ops) > 512 {
			ops = ops[:512]
		}
		var prepared, pending uint64 // pending: taken but not yet submitted
		seen := make(map[uint64]bool)
		reap := func(c CQE) {
			if seen[c.UserData] || c.UserData >= prepared || c.Res != 0 {
				t.Fatalf("bad or duplicate completion %+v (prepared %d)", c, prepared)
			}
			seen[c.UserData] = true
		}
		cqes := make([]CQE, 3)
		for _, op := range ops {
			switch op % 5 {
			case 0:
				full := r.SQReady() == sq
				s := r.GetSQE()
				if (s == nil) != full {
					t.Fatalf("GetSQE nil=%v with %d of %d ready", s == nil, r.SQReady(), sq)
				}
				if s != nil {
					s.PrepNop()
					s.SetUserData(prepared)
					prepared++
					pending++
				}
			case 1:
				n, err := r.Submit()
				if err != nil || uint64(n) != pending {
					t.Fatalf("Submit: %d of %d, %v", n, pending, err)
				}
				pending = 0
			case 2:
				c, err := r.PeekCQE()
				if err != nil {
					t.Fatal(err)
				}
				if c != nil {
					reap(*c)
					r.CQESeen(c)
				}
			case 3:
				n := r.PeekBatchCQE(cqes)
				for _, c := range cqes[:n] {
					reap(c)
				}
			case 4:
				if uint64(len(seen)) < prepared-pending {
					if _, err := r.SubmitAndWait(1); err != nil {
						t.Fatal(err)
					}
					pending = 0
				}
			}
		}
		if _, err := r.Submit(); err != nil {
			t.Fatal(err)
		}
		for uint64(len(seen)) < prepared {
			c, err := r.WaitCQE()
			if err != nil {
				t.Fatal(err)
			}
			reap(*c)
			r.CQESeen(c)
		}
		if c, _ := r.PeekCQE(); c != nil {
			t.Fatalf("extra completion %+v", *c)
		}
	})
}

// refSQE encodes an SQE the way struct io_uring_sqe lays it out, field by
// field at the kernel's byte offsets, independent of the Go struct.
func refSQE(op, flags uint8, fd int32, off, addr uint64, length, opFlags uint32, userData uint64, bufIndex uint16) []byte {
	b := make([]byte, 64)
	le := binary.LittleEndian
	b[0], b[1] = op, flags
	le.PutUint32(b[4:], uint32(fd))
	le.PutUint64(b[8:], off)
	le.PutUint64(b[16:], addr)
	le.PutUint32(b[24:], length)
	le.PutUint32(b[28:], opFlags)
	le.PutUint64(b[32:], userData)
	le.PutUint16(b[40:], bufIndex)
	return b
}

func encodeSQE(t *testing.T, s *SQE) []byte {
	var buf bytes.Buffer
	if err := binary.Write(&buf, binary.LittleEndian, s); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// FuzzPrepEncoding checks each Prep helper against the reference encoding
// of liburing's io_uring_prep_* for the same arguments.
func FuzzPrepEncoding(f *testing.F) {
	f.Add(uint8(0), int32(3), uint64(0x7f0000001000), uint32(4096), uint64(8192), uint32(1), uint16(2), uint64(99), true)
	f.Add(uint8(5), int32(-1), uint64(0), uint32(0), uint64(0), uint32(0), uint16(0), uint64(0), false)
	for i := uint8(1); i < 10; i++ {
		f.Add(i, int32(i), uint64(i)<<40, uint32(i)*512, uint64(i)<<20, uint32(i), uint16(i), ^uint64(i), i%2 == 0)
	}
	f.Fuzz(func(t *testing.T, which uint8, fd int32, addr uint64, length uint32, off uint64, flags uint32, idx uint16, ud uint64, fixed bool) {
		var s SQE
		var want []byte
		var sqeFlags uint8
		if fixed {
			sqeFlags = SQEFixedFile
		}
		a := uintptr(addr)
		switch which % 10 {
		case 0:
			s.PrepReadvAddr(fd, a, length, off)
			want = refSQE(OpReadv, sqeFlags, fd, off, uint64(a), length, 0, ud, 0)
		case 1:
			s.PrepWritevAddr(fd, a, length, off)
			want = refSQE(OpWritev, sqeFlags, fd, off, uint64(a), length, 0, ud, 0)
		case 2:
			s.PrepReadAddr(fd, a, length, off)
			want = refSQE(OpRead, sqeFlags, fd, off, uint64(a), length, 0, ud, 0)
		case 3:
			s.PrepWriteAddr(fd, a, length, off)
			want = refSQE(OpWrite, sqeFlags, fd, off, uint64(a), length, 0, ud, 0)
		case 4:
			s.PrepReadFixedAddr(fd, a, length, off, idx)
			want = refSQE(OpReadFixed, sqeFlags, fd, off, uint64(a), length, 0, ud, idx)
		case 5:
			s.PrepWriteFixedAddr(fd, a, length, off, idx)
			want = refSQE(OpWriteFixed, sqeFlags, fd, off, uint64(a), length, 0, ud, idx)
		case 6:
			s.PrepFsync(fd, flags)
			want = refSQE(OpFsync, sqeFlags, fd, 0, 0, 0, flags, ud, 0)
		case 7:
			// io_uring_prep_fallocate: mode in len, length in addr.
			s.PrepFallocate(fd, length, off, addr)
			want = refSQE(OpFallocate, sqeFlags, fd, off, addr, length, 0, ud, 0)
		case 8:
			s.PrepPollAdd(fd, flags)
			want = refSQE(OpPollAdd, sqeFlags, fd, 0, 0, 0, flags, ud, 0)
		case 9:
			s.PrepNop()
			want = refSQE(OpNop, sqeFlags, -1, 0, 0, 0, 0, ud, 0)
		}
		s.SetUserData(ud)
		if fixed {
			s.SetFixedFile()
		}
		if got := encodeSQE(t, &s); !bytes.Equal(got, want) {
			t.Fatalf("case %d:\n got %x\nwant %x", which%10, got, want)
		}
	})
}
