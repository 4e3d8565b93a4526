//go:build linux

package iouring

import "unsafe"

// Compile-time check that SQE matches the kernel's 64-byte io_uring_sqe.
var _ [64 - unsafe.Sizeof(SQE{})]struct{}
var _ [unsafe.Sizeof(SQE{}) - 64]struct{}
