package virtio

import "vmm/guestmem"

// Device is a virtio device behind the transport. The transport calls its
// methods with its own lock held, from vCPU threads: none may block for
// long. Everything else (request processing) runs on the device's own
// worker goroutines, started by Activate and stopped by Reset.
type Device interface {
	// Type is the virtio device ID (2 for block).
	Type() uint32
	// Features is what the device offers; the transport adds nothing.
	Features() uint64
	// QueueMaxSizes has one entry per virtqueue: its QueueNumMax.
	QueueMaxSizes() []uint16
	// ReadConfig and WriteConfig access the device-specific configuration
	// space; offset and len(data) are already within ConfigSize.
	ConfigSize() int
	ReadConfig(offset int, data []byte)
	WriteConfig(offset int, data []byte)
	// Activate starts the device once the driver has set DRIVER_OK: every
	// ready queue has been activated (its rings checked and bound). An
	// error means the driver's setup is unusable: DEVICE_NEEDS_RESET.
	Activate(a Activation) error
	// Reset stops the device. It must return at once; done is called (from
	// any goroutine, possibly before Reset returns) once no worker touches
	// guest memory or has I/O in flight any more. Only then does the
	// transport report status 0 to the driver, which waits for that before
	// it reuses the rings' memory. Reset is never called again before done.
	Reset(done func())
}

// Activation is what a device gets to run with.
type Activation struct {
	Mem      *guestmem.Memory
	Features uint64 // negotiated
	// Queues are all of the device's queues; those with Ready set are
	// activated. Notify[i] is the eventfd queue i's kicks arrive on (KVM
	// signals it through an ioeventfd; the transport signals it for a
	// QueueNotify write that reaches the VMM).
	Queues []*Queue
	Notify []int
	IRQ    *Interrupt
	// NeedsReset reports a protocol violation found while the device runs:
	// the transport sets DEVICE_NEEDS_RESET and interrupts the driver with
	// a configuration change. The device stops using the offending queue,
	// and counts and logs the violation itself (the transport does not).
	// It takes the transport's lock: never call it while holding a lock
	// that the device's ReadConfig, WriteConfig, Activate or Reset take.
	NeedsReset func(reason error)
}
