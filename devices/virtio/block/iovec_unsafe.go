package block

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// The backends see guest data only as iovecs: addresses into guest RAM (or a
// bounce buffer), both anonymous mmaps outside the Go heap. These helpers are
// the only places that turn such an address into something Go can touch.

// iovAddr is the address an iovec points at, for alignment checks and for
// matching it against registered fixed buffers.
func iovAddr(v *unix.Iovec) uintptr { return uintptr(unsafe.Pointer(v.Base)) }

// iovBytes is the memory v describes. v must point into guest RAM or a pool
// buffer, never the Go heap: the slice is not a Go object.
func iovBytes(v *unix.Iovec) []byte {
	if v.Len == 0 {
		return nil
	}
	return unsafe.Slice(v.Base, v.Len)
}

// skipIovecs appends to dst the iovecs of src that remain after its first
// skip bytes, the first one trimmed: what is left to transfer after a short
// read or write.
func skipIovecs(dst, src []unix.Iovec, skip uint64) []unix.Iovec {
	for _, v := range src {
		if skip >= v.Len {
			skip -= v.Len
			continue
		}
		if skip > 0 {
			v.Base = (*byte)(unsafe.Add(unsafe.Pointer(v.Base), skip))
			v.Len -= skip
			skip = 0
		}
		dst = append(dst, v)
	}
	return dst
}

// sysPreadv2 and sysPwritev2 are preadv2/pwritev2 on an iovec array (the
// x/sys wrappers take [][]byte, which would have to be rebuilt per request).
// flags is RWF_*; EINTR is the caller's to retry.
func sysPreadv2(fd int, iov []unix.Iovec, off int64, flags int) (int, error) {
	return rwv2(unix.SYS_PREADV2, fd, iov, off, flags)
}

func sysPwritev2(fd int, iov []unix.Iovec, off int64, flags int) (int, error) {
	return rwv2(unix.SYS_PWRITEV2, fd, iov, off, flags)
}

func rwv2(nr uintptr, fd int, iov []unix.Iovec, off int64, flags int) (int, error) {
	var p unsafe.Pointer
	if len(iov) > 0 {
		p = unsafe.Pointer(&iov[0])
	}
	// The offset goes in two registers (pos_l, pos_h); on a 64-bit kernel
	// pos_l holds all of it and pos_h is shifted out, so it is 0.
	n, _, errno := unix.Syscall6(nr, uintptr(fd), uintptr(p), uintptr(len(iov)),
		uintptr(off), 0, uintptr(flags))
	if errno != 0 {
		return 0, errno
	}
	return int(n), nil
}
