// Package devices holds the guest-visible devices and the bus that routes
// port I/O and MMIO exits to them.
//
// Devices never import the vmm package: each gets what it needs (an
// interrupt line, an output writer, a callback) through small interfaces at
// construction. Every value a guest writes is untrusted; devices must accept
// any offset and any access size without panicking.
package devices

// Device is a guest-visible register window. offset is relative to the base
// address the device was registered at; len(data) is the access size (1, 2,
// 4 or 8, though devices must tolerate any). Read fills data; Write consumes it.
// Implementations must be safe for concurrent use by several vCPUs.
type Device interface {
	Read(offset uint64, data []byte)
	Write(offset uint64, data []byte)
}

// IRQLine is an interrupt line into the guest's interrupt controller.
// SetLevel(true) raises it, SetLevel(false) lowers it; edge-triggered
// consumers see a rising edge on each false→true transition.
type IRQLine interface {
	SetLevel(high bool) error
}
