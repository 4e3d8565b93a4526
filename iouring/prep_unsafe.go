//go:build linux

package iouring

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// setAddr stores a pointer converted to uintptr in an SQE field.
//
// The //go:uintptrescapes directive makes the compiler treat every
// uintptr(unsafe.Pointer(p)) written in a call's argument list as an escaping
// pointer: p's object is moved to the heap (goroutine stacks move, the heap
// does not) and kept alive for the call. That is what makes it safe for the
// Prep helpers below to accept any Go slice, including a stack literal.
//
//go:uintptrescapes
//go:noinline
func setAddr(dst *uint64, p uintptr) { *dst = uint64(p) }

// PrepReadv reads into the buffers described by iovecs (preadv2 at off).
// iovecs must stay reachable and unchanged until Submit returns; the buffers
// it points at until the CQE is reaped.
func (s *SQE) PrepReadv(fd int32, iovecs []unix.Iovec, off uint64) {
	s.prepRW(OpReadv, fd, 0, uint32(len(iovecs)), off)
	if len(iovecs) > 0 {
		setAddr(&s.Addr, uintptr(unsafe.Pointer(&iovecs[0])))
	}
}

// PrepWritev writes the buffers described by iovecs (pwritev2 at off), with
// the same lifetime rules as PrepReadv.
func (s *SQE) PrepWritev(fd int32, iovecs []unix.Iovec, off uint64) {
	s.prepRW(OpWritev, fd, 0, uint32(len(iovecs)), off)
	if len(iovecs) > 0 {
		setAddr(&s.Addr, uintptr(unsafe.Pointer(&iovecs[0])))
	}
}

// PrepRead reads up to len(buf) bytes at off into buf. buf must stay
// reachable until the CQE is reaped.
func (s *SQE) PrepRead(fd int32, buf []byte, off uint64) {
	s.prepRW(OpRead, fd, 0, uint32(len(buf)), off)
	if len(buf) > 0 {
		setAddr(&s.Addr, uintptr(unsafe.Pointer(&buf[0])))
	}
}

// PrepWrite writes buf to the file at off. buf must stay reachable and
// unchanged until the CQE is reaped.
func (s *SQE) PrepWrite(fd int32, buf []byte, off uint64) {
	s.prepRW(OpWrite, fd, 0, uint32(len(buf)), off)
	if len(buf) > 0 {
		setAddr(&s.Addr, uintptr(unsafe.Pointer(&buf[0])))
	}
}

// PrepReadFixed reads into buf, which must lie inside registered buffer
// bufIndex.
func (s *SQE) PrepReadFixed(fd int32, buf []byte, off uint64, bufIndex uint16) {
	s.prepRW(OpReadFixed, fd, 0, uint32(len(buf)), off)
	s.BufIndex = bufIndex
	if len(buf) > 0 {
		setAddr(&s.Addr, uintptr(unsafe.Pointer(&buf[0])))
	}
}

// PrepWriteFixed writes buf, which must lie inside registered buffer bufIndex.
func (s *SQE) PrepWriteFixed(fd int32, buf []byte, off uint64, bufIndex uint16) {
	s.prepRW(OpWriteFixed, fd, 0, uint32(len(buf)), off)
	s.BufIndex = bufIndex
	if len(buf) > 0 {
		setAddr(&s.Addr, uintptr(unsafe.Pointer(&buf[0])))
	}
}
