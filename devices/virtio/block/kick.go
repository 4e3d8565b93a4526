package block

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// The queue's kick is an eventfd: KVM adds 1 to it when the guest writes
// QueueNotify (ioeventfd), and Wake adds 1 to make the worker look at a
// reset or a stop. Reading it returns the sum and resets it to 0, so any
// number of kicks between two reads wake the worker once.

// eventfdOne is the 8-byte counter increment a write to an eventfd takes.
var eventfdOne = [8]byte{1}

// signalEventfd adds 1 to the eventfd fd.
func signalEventfd(fd int) error {
	for {
		_, err := unix.Write(fd, eventfdOne[:])
		switch err {
		case nil:
			return nil
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			// The counter is at its maximum: a wake-up is pending anyway.
			return nil
		}
		return fmt.Errorf("signal kick eventfd %d: %w", fd, err)
	}
}
