//go:build linux

package sandbox

import (
	"unsafe"

	"golang.org/x/sys/unix"
	"kernel.org/pub/linux/libs/security/libcap/psx"
)

// allThreadsCapsetZero empties the permitted, effective and inheritable
// capability sets of every thread: capset(2) changes only the calling
// thread, and x/sys has no all-threads form that takes pointers.
func allThreadsCapsetZero() error {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3} // Pid 0: the calling thread
	var data [2]unix.CapUserData                                        // version 3: two 32-bit halves, all zero
	_, _, errno := psx.Syscall3(unix.SYS_CAPSET, uintptr(unsafe.Pointer(&hdr)), uintptr(unsafe.Pointer(&data[0])), 0)
	return errnoErr(errno)
}
