package block

import "golang.org/x/sys/unix"

// appendIovec appends an iovec for b, a slice of guest RAM (outside the Go
// heap, so the kernel may keep its address until the I/O completes).
func appendIovec(iov []unix.Iovec, b []byte) []unix.Iovec {
	v := unix.Iovec{}
	if len(b) > 0 {
		v.Base = &b[0]
		v.SetLen(len(b))
	}
	return append(iov, v)
}
