package virtio

import (
	"encoding/binary"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// Interrupt is a device's interrupt line into the guest: the
// InterruptStatus bits the driver reads and acknowledges, and the irqfd
// that makes KVM inject the interrupt without a trip through the VMM.
// The irqfd pulses its GSI, so the guest's IOAPIC pin is edge-triggered
// and every Trigger is one edge.
type Interrupt struct {
	status atomic.Uint32
	fd     int // the irqfd's eventfd; owned by the VMM, which closes it after the workers stop
}

// NewInterrupt wraps an eventfd registered with KVM as an irqfd. fd < 0
// gives an interrupt that only records its status bits (tests).
func NewInterrupt(fd int) *Interrupt { return &Interrupt{fd: fd} }

// Trigger sets bits in InterruptStatus and then signals the irqfd: the
// status is visible by the time the guest's handler reads it.
func (i *Interrupt) Trigger(bits uint32) error {
	i.status.Or(bits)
	if i.fd < 0 {
		return nil
	}
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], 1)
	for {
		_, err := unix.Write(i.fd, b[:])
		if err != unix.EINTR {
			return err
		}
	}
}

// Status is the InterruptStatus register.
func (i *Interrupt) Status() uint32 { return i.status.Load() }

// Ack clears bits, as a driver's write to InterruptACK does.
func (i *Interrupt) Ack(bits uint32) { i.status.And(^bits) }

// clear drops every pending bit (device reset).
func (i *Interrupt) clear() { i.status.Store(0) }
