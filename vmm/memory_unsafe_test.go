package vmm

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// residentPages reports, per 4 KiB page of b (page-aligned), whether it is
// in memory (mincore(2)).
func residentPages(b []byte) ([]bool, error) {
	vec := make([]byte, (len(b)+4095)/4096)
	if len(b) == 0 {
		return nil, nil
	}
	_, _, e := unix.Syscall(unix.SYS_MINCORE, uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)), uintptr(unsafe.Pointer(&vec[0])))
	if e != 0 {
		return nil, e
	}
	out := make([]bool, len(vec))
	for i, v := range vec {
		out[i] = v&1 != 0
	}
	return out, nil
}
