package devices

import (
	"encoding/binary"
	"sync/atomic"
)

// Test device ports and addresses, shared with the tiny test kernel
// (guest/). The device exists only when the VMM runs with --test-exit.
const (
	TestDevicePort     = 0xf4 // base of the port window
	TestDevicePortSize = 12
	testExitOffset     = 0 // outl value: the VMM stops and maps it to its exit status
	testScratchOffset  = 4 // inl/outl: echo register for the port-I/O round trip
	testIRQOffset      = 8 // outl anything: the VMM fires the test irqfd

	TestMMIOSize = 0x1000 // MMIO scratch page (echo register at offset 0); vmm places it
)

// TestDevice lets the tiny test kernel end the run with a status, measure
// exit round trips, and ask for an interrupt through an irqfd.
type TestDevice struct {
	exit    func(value uint32)
	fireIRQ func()
	scratch atomic.Uint32
}

// NewTestDevice returns a test device; exit receives the value the guest
// writes (the caller maps it to an exit status), fireIRQ is called when the
// guest asks for the test interrupt.
func NewTestDevice(exit func(value uint32), fireIRQ func()) *TestDevice {
	return &TestDevice{exit: exit, fireIRQ: fireIRQ}
}

// Read implements Device for the port window.
func (t *TestDevice) Read(offset uint64, data []byte) {
	var v uint32
	if offset == testScratchOffset {
		v = t.scratch.Load()
	}
	putLE(data, v)
}

// Write implements Device for the port window.
func (t *TestDevice) Write(offset uint64, data []byte) {
	v := getLE(data)
	switch offset {
	case testExitOffset:
		if t.exit != nil {
			t.exit(v)
		}
	case testScratchOffset:
		t.scratch.Store(v)
	case testIRQOffset:
		if t.fireIRQ != nil {
			t.fireIRQ()
		}
	}
}

// MMIO returns the Device for the MMIO scratch page, sharing the echo
// register with the port window.
func (t *TestDevice) MMIO() Device { return testMMIO{t} }

type testMMIO struct{ t *TestDevice }

func (m testMMIO) Read(offset uint64, data []byte) {
	var v uint32
	if offset == 0 {
		v = m.t.scratch.Load()
	}
	putLE(data, v)
}

func (m testMMIO) Write(offset uint64, data []byte) {
	if offset == 0 {
		m.t.scratch.Store(getLE(data))
	}
}

// putLE writes v little-endian into data, truncated or zero-extended to
// len(data).
func putLE(data []byte, v uint32) {
	var b [8]byte
	binary.LittleEndian.PutUint32(b[:], v)
	for i := range data {
		if i < len(b) {
			data[i] = b[i]
		} else {
			data[i] = 0
		}
	}
}

// getLE reads up to 4 little-endian bytes of data.
func getLE(data []byte) uint32 {
	var b [4]byte
	copy(b[:], data)
	return binary.LittleEndian.Uint32(b[:])
}
