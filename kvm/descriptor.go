//go:build linux

package kvm

import (
	"sync"

	"golang.org/x/sys/unix"
)

// descriptor is the file descriptor behind a System, VM or VCPU. The lock
// makes Fd and Close safe to call concurrently: after Close, Fd returns -1
// and an ioctl through it fails with EBADF.
//
// It does not make an ioctl that has already read the number safe against
// a concurrent Close: the ioctl runs after Fd released the lock, and could
// reach a number the process has meanwhile closed and reused for another
// file. That is prevented by teardown order, not here: the VMM stops and
// joins every goroutine that can issue an ioctl on a descriptor (vCPU
// threads, device workers) before it closes that descriptor (vmm.VM.Close).
type descriptor struct {
	mu sync.Mutex
	fd int // -1 once closed; guarded by mu
}

// Fd is the raw descriptor (-1 after Close).
func (d *descriptor) Fd() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.fd
}

// close closes the descriptor once; later calls return nil. release, if not
// nil, runs first under the same lock, for what must go before the fd.
func (d *descriptor) close(release func() error) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.fd < 0 {
		return nil
	}
	var err error
	if release != nil {
		err = release()
	}
	if cerr := unix.Close(d.fd); err == nil {
		err = cerr
	}
	d.fd = -1
	return err
}
