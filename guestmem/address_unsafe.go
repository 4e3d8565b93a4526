package guestmem

import "unsafe"

// HostAddr returns the host virtual address of the region's mapping, for
// KVM_SET_USER_MEMORY_REGION. The mapping is outside the Go heap, so the
// address stays valid until Memory.Close.
func (r *Region) HostAddr() uint64 { return uint64(AddressOf(r.Mem)) }

// AddressOf is the host address of b's first byte (0 for an empty slice),
// for the kernel: an iovec base, an io_uring SQE address. Use it only for
// memory the Go garbage collector does not own (guest RAM, an mmap), since
// the kernel keeps the address after the call returns.
func AddressOf(b []byte) uintptr {
	if len(b) == 0 {
		return 0
	}
	return uintptr(unsafe.Pointer(unsafe.SliceData(b)))
}
