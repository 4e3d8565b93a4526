//go:build linux

package iouring

// SQE is a submission queue entry, laid out exactly like struct io_uring_sqe
// (64 bytes). Unions are flattened to the member this package uses; OpFlags
// is rw_flags / fsync_flags / poll32_events depending on the opcode.
type SQE struct {
	Opcode      uint8
	Flags       uint8  // IOSQE_* flags
	IoPrio      uint16 // I/O priority
	Fd          int32  // file descriptor, or fixed-file index with SQEFixedFile
	Off         uint64 // file offset (addr2 for some opcodes)
	Addr        uint64 // buffer or iovec array address
	Len         uint32 // byte count or iovec count
	OpFlags     uint32 // rw_flags, fsync_flags, poll32_events, ...
	UserData    uint64 // returned untouched in the CQE
	BufIndex    uint16 // fixed buffer index (READ_FIXED/WRITE_FIXED)
	Personality uint16
	FileIndex   int32 // splice_fd_in / file_index
	Addr3       uint64
	_           uint64
}

// prepRW fills the fields shared by every read/write-shaped opcode, like
// liburing's io_uring_prep_rw. The entry is zeroed by GetSQE beforehand, so
// only the fields named here are set.
func (s *SQE) prepRW(op uint8, fd int32, addr uint64, length uint32, off uint64) {
	s.Opcode = op
	s.Fd = fd
	s.Off = off
	s.Addr = addr
	s.Len = length
}

// SetUserData sets the value the kernel returns in the CQE of this request.
func (s *SQE) SetUserData(v uint64) { s.UserData = v }

// SetFlags ORs IOSQE_* flags into the entry (SQEFixedFile, SQEIOLink, ...).
func (s *SQE) SetFlags(f uint8) { s.Flags |= f }

// SetFixedFile marks Fd as an index into the registered file table.
func (s *SQE) SetFixedFile() { s.Flags |= SQEFixedFile }

// PrepNop prepares a request that does nothing and completes with res 0.
func (s *SQE) PrepNop() { s.prepRW(OpNop, -1, 0, 0, 0) }

// PrepReadvAddr is PrepReadv for an iovec array outside the Go heap (or
// pinned by the caller): iovAddr points at nr struct iovec.
func (s *SQE) PrepReadvAddr(fd int32, iovAddr uintptr, nr uint32, off uint64) {
	s.prepRW(OpReadv, fd, uint64(iovAddr), nr, off)
}

// PrepWritevAddr is PrepWritev for an iovec array given by address.
func (s *SQE) PrepWritevAddr(fd int32, iovAddr uintptr, nr uint32, off uint64) {
	s.prepRW(OpWritev, fd, uint64(iovAddr), nr, off)
}

// PrepReadAddr reads length bytes at off into memory at addr (guest RAM or
// another mapping outside the Go heap).
func (s *SQE) PrepReadAddr(fd int32, addr uintptr, length uint32, off uint64) {
	s.prepRW(OpRead, fd, uint64(addr), length, off)
}

// PrepWriteAddr writes length bytes from addr to the file at off.
func (s *SQE) PrepWriteAddr(fd int32, addr uintptr, length uint32, off uint64) {
	s.prepRW(OpWrite, fd, uint64(addr), length, off)
}

// PrepReadFixedAddr reads into registered buffer bufIndex; [addr, addr+length)
// must lie inside that buffer.
func (s *SQE) PrepReadFixedAddr(fd int32, addr uintptr, length uint32, off uint64, bufIndex uint16) {
	s.prepRW(OpReadFixed, fd, uint64(addr), length, off)
	s.BufIndex = bufIndex
}

// PrepWriteFixedAddr writes from registered buffer bufIndex.
func (s *SQE) PrepWriteFixedAddr(fd int32, addr uintptr, length uint32, off uint64, bufIndex uint16) {
	s.prepRW(OpWriteFixed, fd, uint64(addr), length, off)
	s.BufIndex = bufIndex
}

// PrepFsync flushes fd; flags is 0 (fsync) or FsyncDatasync (fdatasync).
func (s *SQE) PrepFsync(fd int32, flags uint32) {
	s.prepRW(OpFsync, fd, 0, 0, 0)
	s.OpFlags = flags
}

// PrepFallocate is fallocate(fd, mode, off, length). The kernel takes the
// mode in len and the length in addr, as liburing encodes it.
func (s *SQE) PrepFallocate(fd int32, mode uint32, off, length uint64) {
	s.prepRW(OpFallocate, fd, length, mode, off)
}

// PrepPollAdd completes once fd reports any of events (unix.POLLIN, ...);
// res is the ready mask.
func (s *SQE) PrepPollAdd(fd int32, events uint32) {
	s.prepRW(OpPollAdd, fd, 0, 0, 0)
	s.OpFlags = events
}
