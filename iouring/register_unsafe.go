//go:build linux

package iouring

import (
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Each helper passes a pointer to Go memory for the duration of one
// io_uring_register call; the kernel copies what it needs before returning.
// runtime.KeepAlive keeps the argument reachable until the call is over.

func (r *Ring) registerFiles(fds []int32) error {
	_, err := sysRegister(r.fd, RegisterFiles, unsafe.Pointer(&fds[0]), uint32(len(fds)))
	runtime.KeepAlive(fds)
	return err
}

// filesUpdate is struct io_uring_files_update.
type filesUpdate struct {
	offset uint32
	resv   uint32
	fds    uint64 // __aligned_u64 pointer to the int32 fds
}

func (r *Ring) registerFilesUpdate(off uint32, fds []int32) (int, error) {
	up := filesUpdate{offset: off, fds: uint64(uintptr(unsafe.Pointer(&fds[0])))}
	n, err := sysRegister(r.fd, RegisterFilesUpdate, unsafe.Pointer(&up), uint32(len(fds)))
	runtime.KeepAlive(fds)
	return n, err
}

func (r *Ring) registerIovecs(iov unsafe.Pointer, n int) error {
	_, err := sysRegister(r.fd, RegisterBuffers, iov, uint32(n))
	return err
}

func (r *Ring) registerBuffers(iovecs []unix.Iovec) error {
	err := r.registerIovecs(unsafe.Pointer(&iovecs[0]), len(iovecs))
	runtime.KeepAlive(iovecs)
	return err
}

// BufferRegion is one fixed buffer given by raw address, for memory outside
// the Go heap such as guest RAM. It has struct iovec's layout.
type BufferRegion struct {
	Addr uintptr
	Len  uint64
}

var _ [unsafe.Sizeof(BufferRegion{}) - unsafe.Sizeof(unix.Iovec{})]struct{}

func (r *Ring) registerRegions(regions []BufferRegion) error {
	err := r.registerIovecs(unsafe.Pointer(&regions[0]), len(regions))
	runtime.KeepAlive(regions)
	return err
}

func (r *Ring) registerEventfd(op uint32, efd int) error {
	fd := int32(efd)
	_, err := sysRegister(r.fd, op, unsafe.Pointer(&fd), 1)
	return err
}

func (r *Ring) registerRestrictions(res []Restriction) error {
	_, err := sysRegister(r.fd, RegisterRestrictions, unsafe.Pointer(&res[0]), uint32(len(res)))
	runtime.KeepAlive(res)
	return err
}

func (r *Ring) registerProbe(p *probeBuf) error {
	_, err := sysRegister(r.fd, RegisterProbe, unsafe.Pointer(p), uint32(len(p.ops)))
	return err
}

var _ [unsafe.Sizeof(Restriction{}) - 16]struct{}
var _ [16 - unsafe.Sizeof(Restriction{})]struct{}
