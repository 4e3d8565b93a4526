package vmm

import "unsafe"

// HostAddr returns the host virtual address of the region's mapping, for
// KVM_SET_USER_MEMORY_REGION. The mapping is outside the Go heap, so the
// address stays valid until Memory.Close.
func (r *Region) HostAddr() uint64 {
	return uint64(uintptr(unsafe.Pointer(unsafe.SliceData(r.Mem))))
}
