//go:build linux

package kvm

import (
	"sync"

	"golang.org/x/sys/unix"
)

// descriptor is the file descriptor behind a System, VM or VCPU. The lock
// lets Fd race Close safely: after Close every ioctl sees -1 (EBADF), never
// a descriptor number the process has since reused.
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
