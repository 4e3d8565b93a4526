//go:build linux

// Package kvm is a typed, pure-Go binding to the /dev/kvm ioctl interface:
// the system, VM and vCPU file descriptors, the kernel ABI structs they
// exchange, and the memory-mapped kvm_run area a vCPU exits through.
//
// It does nothing beyond naming and checking the kernel interface; deciding
// what a VM looks like is the job of package vmm. Struct layouts mirror
// include/uapi/linux/kvm.h and arch/x86/include/uapi/asm/kvm.h field for field
// (the tests compare every size and offset with the C compiler's), so values
// can be handed to the kernel without copying.
package kvm
