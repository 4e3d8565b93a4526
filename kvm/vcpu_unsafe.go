//go:build linux

package kvm

import (
	"fmt"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// newVCPU wraps a vCPU descriptor and its kvm_run mapping.
func newVCPU(fd, id int, mem []byte) (*VCPU, error) {
	if len(mem) < int(unsafe.Sizeof(Run{})) {
		unix.Munmap(mem)
		unix.Close(fd)
		return nil, fmt.Errorf("kvm: kvm_run mapping of vCPU %d is %d bytes, smaller than struct kvm_run (%d)", id, len(mem), unsafe.Sizeof(Run{}))
	}
	return &VCPU{id: id, descriptor: descriptor{fd: fd}, mem: mem, run: (*Run)(unsafe.Pointer(&mem[0]))}, nil
}

// SetImmediateExit sets or clears kvm_run.immediate_exit. With it set, the
// next KVM_RUN returns EINTR at once; together with a signal to the vCPU's
// thread that is the race-free way to stop a vCPU. Safe to call from any
// goroutine: it updates the byte with an atomic compare-and-swap on the
// aligned 32-bit word holding it.
func (v *VCPU) SetImmediateExit(on bool) {
	if v.run == nil {
		return
	}
	word := (*uint32)(unsafe.Pointer(v.run)) // bytes 0..3: request_interrupt_window, immediate_exit, padding
	var b uint32
	if on {
		b = 1
	}
	for {
		old := atomic.LoadUint32(word)
		nw := old&^0xff00 | b<<8
		if atomic.CompareAndSwapUint32(word, old, nw) {
			return
		}
	}
}
