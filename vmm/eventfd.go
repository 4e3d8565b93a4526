package vmm

import (
	"encoding/binary"

	"golang.org/x/sys/unix"
)

// eventFD is a Linux eventfd, the currency of irqfd and ioeventfd.
type eventFD struct{ fd int }

func newEventFD() (*eventFD, error) {
	fd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		return nil, err
	}
	return &eventFD{fd: fd}, nil
}

// signal adds one to the counter, waking whoever waits on it (for an
// irqfd, KVM injects the interrupt).
func (e *eventFD) signal() error {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], 1)
	_, err := unix.Write(e.fd, b[:])
	return err
}

// close closes the eventfd once. Callers join every user first (see
// VM.Close): a signal after close fails with EBADF.
func (e *eventFD) close() {
	if e.fd >= 0 {
		_ = unix.Close(e.fd)
		e.fd = -1
	}
}
