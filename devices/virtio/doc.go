// Package virtio is the device side of virtio 1.x over the virtio-mmio
// transport (version 2, the modern register layout): the register file and
// its status state machine (mmio.go), split virtqueues (queue.go), the
// descriptor-chain reader that validates as it walks (chain.go), and the
// interrupt (irq.go). Devices such as block implement Device.
//
// Everything a driver writes, in registers or in guest memory, is hostile
// input. A driver that breaks the protocol gets DEVICE_NEEDS_RESET and a
// configuration-change interrupt, never a crash, a hang or an access
// outside guest RAM. References are to the virtio 1.2 specification
// (https://docs.oasis-open.org/virtio/virtio/v1.2/virtio-v1.2.html).
package virtio
