//go:build linux

package iouring

import "unsafe"

// addrOf is the address of b's first byte; b must not be Go heap memory
// that could be collected while the kernel uses it (tests pass mmap'd memory).
func addrOf(b []byte) uintptr { return uintptr(unsafe.Pointer(&b[0])) }
