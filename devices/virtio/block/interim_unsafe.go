package block

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

func unsafeSlice(v unix.Iovec) []byte {
	if v.Base == nil {
		return nil
	}
	return unsafe.Slice(v.Base, v.Len)
}
