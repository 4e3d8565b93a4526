package vmm

import (
	"errors"
	"fmt"
	"strings"

	"github.com/sirupsen/logrus"

	"vmm/devices"
	"vmm/devices/virtio"
	"vmm/guestmem"
	"vmm/kvm"
)

// deviceManager owns the VM's virtio-mmio devices: where each sits in the
// MMIO map, its GSI, the eventfds that tie it to KVM (an ioeventfd per
// queue on QueueNotify, so a guest's kick never exits to the VMM, and an
// irqfd, so the VMM interrupts the guest without a vCPU's help), and the
// kernel command-line and ACPI entries that let the guest find it.
type deviceManager struct {
	vm    *kvm.VM
	mem   *guestmem.Memory
	mmio  *devices.Bus
	slots []*virtioDevice
}

// virtioDevice is one device in one slot.
type virtioDevice struct {
	name      string
	base      uint64
	gsi       uint32
	dev       virtio.Device
	transport *virtio.Transport
	irqfd     *eventFD
	notify    []*eventFD
	close     func() error // stops the device's workers and releases its backend
}

// virtioFactory builds a device once its slot's notify eventfds exist (a
// device's queue workers wait on them).
type virtioFactory func(notify []int) (dev virtio.Device, close func() error, err error)

// add places a device in the next slot and wires it to KVM. queues is the
// number of virtqueues the device will have.
func (m *deviceManager) add(name string, queues int, build virtioFactory) (_ *virtioDevice, err error) {
	if len(m.slots) >= MaxVirtioDevices {
		return nil, fmt.Errorf("%s: at most %d virtio devices fit", name, MaxVirtioDevices)
	}
	base, gsi := virtioSlot(len(m.slots))
	d := &virtioDevice{name: name, base: base, gsi: gsi}
	defer func() {
		if err != nil {
			d.release()
		}
	}()
	if d.irqfd, err = newEventFD(); err != nil {
		return nil, fmt.Errorf("%s: irqfd: %w", name, err)
	}
	if err := m.vm.IRQFD(&kvm.IRQFD{FD: uint32(d.irqfd.fd), GSI: gsi}); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	fds := make([]int, queues)
	for q := 0; q < queues; q++ {
		efd, err := newEventFD()
		if err != nil {
			return nil, fmt.Errorf("%s: queue %d notify eventfd: %w", name, q, err)
		}
		d.notify = append(d.notify, efd)
		fds[q] = efd.fd
		// One ioeventfd per queue, matching the queue index the driver
		// writes to QueueNotify: KVM completes the write and signals the
		// eventfd without leaving the kernel.
		if err := m.vm.IOEventFD(&kvm.IOEventFD{Addr: base + virtio.NotifyOffset, Len: 4, Datamatch: uint64(q),
			FD: int32(efd.fd), Flags: kvm.IOEventFDFlagDatamatch}); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
	}
	if d.dev, d.close, err = build(fds); err != nil {
		return nil, err
	}
	// A device that counts violations (block) counts and logs those the
	// transport finds too; for others they go to the debug log.
	onViolation := func(reason error) {
		logrus.WithFields(logrus.Fields{"device": name}).WithError(reason).Debug("virtio protocol violation")
	}
	if c, ok := d.dev.(interface{ TransportViolation(error) }); ok {
		onViolation = c.TransportViolation
	}
	if d.transport, err = virtio.NewTransport(m.mem, d.dev, virtio.NewInterrupt(d.irqfd.fd), fds, onViolation); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if err := m.mmio.Register(base, virtioMMIOSize, d.transport); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	m.slots = append(m.slots, d)
	return d, nil
}

// release closes what a slot holds, in order: the device (its workers
// stop waiting on the eventfds and finish their I/O) before the eventfds.
// Closing an eventfd also detaches KVM's irqfd and makes the ioeventfd
// signal nothing.
func (d *virtioDevice) release() error {
	var errs []error
	if d.close != nil {
		errs = append(errs, d.close())
		d.close = nil
	}
	for _, e := range d.notify {
		e.close()
	}
	if d.irqfd != nil {
		d.irqfd.close()
	}
	return errors.Join(errs...)
}

// close releases every device. Preconditions: no vCPU runs (nothing calls
// a transport any more).
func (m *deviceManager) close() {
	for _, d := range m.slots {
		if err := d.release(); err != nil {
			logrus.WithError(err).WithField("device", d.name).Warn("closing device")
		}
	}
	m.slots = nil
}

// virtioCmdline is what the kernel command line gets for n devices:
// "virtio_mmio.device=<size>@<base>:<irq>" each, the syntax of Linux's
// VIRTIO_MMIO_CMDLINE_DEVICES (Documentation/admin-guide/kernel-parameters.txt),
// which the tiny test kernel reads too.
func virtioCmdline(n int) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		base, gsi := virtioSlot(i)
		fmt.Fprintf(&b, " virtio_mmio.device=4K@%#x:%d", base, gsi)
	}
	return b.String()
}
