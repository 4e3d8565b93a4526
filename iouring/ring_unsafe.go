//go:build linux

package iouring

import (
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"
)

// sysSetup is io_uring_setup(2). p is filled in by the kernel.
func sysSetup(entries uint32, p *Params) (int, error) {
	fd, _, errno := unix.Syscall(unix.SYS_IO_URING_SETUP, uintptr(entries), uintptr(unsafe.Pointer(p)), 0)
	if errno != 0 {
		return -1, errno
	}
	return int(fd), nil
}

// sysRegister is io_uring_register(2). arg may be nil.
func sysRegister(fd int, op uint32, arg unsafe.Pointer, nrArgs uint32) (int, error) {
	n, _, errno := unix.Syscall6(unix.SYS_IO_URING_REGISTER, uintptr(fd), uintptr(op), uintptr(arg), uintptr(nrArgs), 0, 0)
	if errno != 0 {
		return int(n), errno
	}
	return int(n), nil
}

// mapRings maps the SQ ring, the CQ ring (or reuses the SQ mapping with
// IORING_FEAT_SINGLE_MMAP) and the SQE array, and points the queue fields at
// the shared indexes inside them.
func (r *Ring) mapRings() error {
	p := &r.params
	sqSize := int(p.SQOff.Array) + int(p.SQEntries)*4
	cqSize := int(p.CQOff.CQEs) + int(p.CQEntries)*int(unsafe.Sizeof(CQE{}))
	r.singleMmap = p.Features&FeatSingleMmap != 0
	if r.singleMmap {
		sqSize = max(sqSize, cqSize)
		cqSize = sqSize
	}
	const prot = unix.PROT_READ | unix.PROT_WRITE
	const flags = unix.MAP_SHARED | unix.MAP_POPULATE
	var err error
	if r.sqMem, err = unix.Mmap(r.fd, offSQRing, sqSize, prot, flags); err != nil {
		return fmt.Errorf("iouring: mmap SQ ring (%d bytes): %w", sqSize, err)
	}
	if r.singleMmap {
		r.cqMem = r.sqMem
	} else if r.cqMem, err = unix.Mmap(r.fd, offCQRing, cqSize, prot, flags); err != nil {
		return fmt.Errorf("iouring: mmap CQ ring (%d bytes): %w", cqSize, err)
	}
	sqeSize := int(p.SQEntries) * int(unsafe.Sizeof(SQE{}))
	if r.sqeMem, err = unix.Mmap(r.fd, offSQEs, sqeSize, prot, flags); err != nil {
		return fmt.Errorf("iouring: mmap SQE array (%d bytes): %w", sqeSize, err)
	}

	sq := &r.sq
	sq.head = u32At(r.sqMem, p.SQOff.Head)
	sq.tail = u32At(r.sqMem, p.SQOff.Tail)
	sq.flags = u32At(r.sqMem, p.SQOff.Flags)
	sq.dropped = u32At(r.sqMem, p.SQOff.Dropped)
	sq.mask = *u32At(r.sqMem, p.SQOff.RingMask)
	sq.entries = *u32At(r.sqMem, p.SQOff.RingEntries)
	sq.sqes = unsafe.Slice((*SQE)(unsafe.Pointer(&r.sqeMem[0])), sq.entries)
	// The SQ array indirects ring slots to SQE indexes. Map slot i to SQE i
	// once, as liburing does; then only the tail moves.
	array := unsafe.Slice(u32At(r.sqMem, p.SQOff.Array), sq.entries)
	for i := range array {
		array[i] = uint32(i)
	}
	sq.sqeTail = *sq.tail
	sq.sqeHead = sq.sqeTail

	cq := &r.cq
	cq.head = u32At(r.cqMem, p.CQOff.Head)
	cq.tail = u32At(r.cqMem, p.CQOff.Tail)
	cq.overflow = u32At(r.cqMem, p.CQOff.Overflow)
	cq.mask = *u32At(r.cqMem, p.CQOff.RingMask)
	cq.entries = *u32At(r.cqMem, p.CQOff.RingEntries)
	cq.cqes = unsafe.Slice((*CQE)(unsafe.Pointer(&r.cqMem[p.CQOff.CQEs])), cq.entries)
	return nil
}

// u32At points at the uint32 at byte offset off of a ring mapping. The
// offsets come from the kernel and are 4-byte aligned.
func u32At(mem []byte, off uint32) *uint32 {
	return (*uint32)(unsafe.Pointer(&mem[off]))
}
