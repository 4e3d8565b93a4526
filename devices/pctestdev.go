package devices

import "sync/atomic"

// The ports of QEMU's pc-testdev (hw/misc/pc-testdev.c) that test programs
// written for QEMU use, kvm-unit-tests' x86 tests among them. The VMM
// attaches them only with --test-exit, beside TestDevice.
const (
	PCTestDevPort     = 0xe0 // echo register, flush port, byte-wide echo alias
	PCTestDevPortSize = 12
	pcTestEchoOffset  = 0 // 0xe0-0xe3: a 32-bit register, readable and writable bytewise
	pcTestFlushOffset = 4 // 0xe4-0xe7: "flush this page" (QEMU remaps the page); accepted, ignored
	pcTestEchoAlias   = 8 // 0xe8-0xeb: the same register (QEMU's byte-access view)

	PCTestIRQPort  = 0x2000 // 0x2000+n: a write sets IOAPIC input n to (value != 0)
	PCTestIRQLines = 24
)

// PCTestDev is the pc-testdev echo register, flush port and interrupt
// lines. QEMU's 64 KiB MMIO scratch at 0xff000000 is not provided. Safe
// for concurrent use.
type PCTestDev struct {
	echo  atomic.Uint32
	lines []IRQLine
}

// NewPCTestDev returns the device; lines[n] is IOAPIC input n (up to
// PCTestIRQLines of them).
func NewPCTestDev(lines []IRQLine) *PCTestDev {
	return &PCTestDev{lines: lines}
}

// Read implements Device for the window at PCTestDevPort: each byte of the
// access reads the echo register's byte at that port, little-endian; the
// flush port and bytes past the register read as zeroes.
func (d *PCTestDev) Read(offset uint64, data []byte) {
	v := d.echo.Load()
	for i := range data {
		data[i] = 0
		if b, ok := echoByte(offset, i); ok {
			data[i] = byte(v >> (8 * b))
		}
	}
}

// Write implements Device for the window at PCTestDevPort: each byte lands
// in the echo register's byte at that port; the rest is dropped.
func (d *PCTestDev) Write(offset uint64, data []byte) {
	for {
		old := d.echo.Load()
		v := old
		for i, c := range data {
			if b, ok := echoByte(offset, i); ok {
				v = v&^(0xff<<(8*b)) | uint32(c)<<(8*b)
			}
		}
		if d.echo.CompareAndSwap(old, v) {
			return
		}
	}
}

// echoByte maps byte i of an access at offset to a byte of the echo
// register, if it falls on one.
func echoByte(offset uint64, i int) (uint, bool) {
	if offset >= PCTestDevPortSize {
		return 0, false // also keeps offset+i from wrapping
	}
	p := offset + uint64(i)
	switch {
	case p >= pcTestEchoOffset && p < pcTestEchoOffset+4:
		return uint(p - pcTestEchoOffset), true
	case p >= pcTestEchoAlias && p < pcTestEchoAlias+4:
		return uint(p - pcTestEchoAlias), true
	}
	return 0, false
}

// IRQPorts returns the Device for the PCTestIRQLines ports at
// PCTestIRQPort. Byte i of a write at port 0x2000+n sets line n+i; reads
// return zeroes.
func (d *PCTestDev) IRQPorts() Device { return pcTestIRQ{d} }

type pcTestIRQ struct{ d *PCTestDev }

func (p pcTestIRQ) Read(offset uint64, data []byte) { clear(data) }

func (p pcTestIRQ) Write(offset uint64, data []byte) {
	if offset >= PCTestIRQLines {
		return // also keeps offset+i from wrapping
	}
	for i, c := range data {
		n := offset + uint64(i)
		if n < uint64(len(p.d.lines)) && p.d.lines[n] != nil {
			_ = p.d.lines[n].SetLevel(c != 0)
		}
	}
}
