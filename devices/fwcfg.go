package devices

import (
	"encoding/binary"
	"sync"
)

// fw_cfg, QEMU's firmware configuration interface, read-only and through
// the legacy port interface only (QEMU's docs/specs/fw_cfg.rst): a 16-bit
// selector at 0x510 picks an item, and each byte read from the data port
// 0x511 is the item's next byte. Test programs written for QEMU read the
// CPU count and RAM size from it.
const (
	FWCfgPort     = 0x510 // selector (16-bit write); data at FWCfgPort+1
	FWCfgPortSize = 2

	fwCfgKeySignature = 0x00
	fwCfgKeyRAMSize   = 0x03 // u64, little-endian
	fwCfgKeyNbCPUs    = 0x05 // u16, little-endian
	fwCfgKeyMaxCPUs   = 0x0f // u16, little-endian

	// fwCfgArchLocal marks keys of the architecture's own item table
	// (x86: e820, ACPI tables, ...): none are provided, so they read as
	// zeroes. fwCfgEntryMask leaves the item number; bit 14 is the old
	// write-channel flag, which QEMU ignores when it selects.
	fwCfgArchLocal = 0x8000
	fwCfgEntryMask = 0x3fff
)

// FWCfg is a read-only fw_cfg with the signature, the RAM size and the CPU
// counts; every other item reads as zeroes, as does any byte past an
// item's end. Safe for concurrent use.
type FWCfg struct {
	items map[uint16][]byte

	mu     sync.Mutex
	cur    []byte // the selected item (nil: none of ours)
	offset int    // next byte of cur to read
}

// NewFWCfg returns an fw_cfg that reports ramSize bytes of RAM, cpus
// vCPUs and at most maxCPUs. As after a QEMU reset, the signature item is
// selected until the guest selects another.
func NewFWCfg(ramSize uint64, cpus, maxCPUs uint16) *FWCfg {
	le := binary.LittleEndian
	f := &FWCfg{items: map[uint16][]byte{
		fwCfgKeySignature: []byte("QEMU"),
		fwCfgKeyRAMSize:   le.AppendUint64(nil, ramSize),
		fwCfgKeyNbCPUs:    le.AppendUint16(nil, cpus),
		fwCfgKeyMaxCPUs:   le.AppendUint16(nil, maxCPUs),
	}}
	f.selectKey(fwCfgKeySignature)
	return f
}

// selectKey makes key the current item and rewinds it.
// Preconditions: f.mu is held, or f is not shared yet.
func (f *FWCfg) selectKey(key uint16) {
	f.cur, f.offset = nil, 0
	if key&fwCfgArchLocal == 0 {
		f.cur = f.items[key&fwCfgEntryMask]
	}
}

// Read implements Device. On either port each byte of the access is the
// selected item's next byte (zero past its end): QEMU's x86 fw_cfg port
// pair reads data at both addresses, and a wider read is a run of byte
// reads, in order.
func (f *FWCfg) Read(offset uint64, data []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := range data {
		data[i] = 0
		if f.offset < len(f.cur) {
			data[i] = f.cur[f.offset]
			f.offset++
		}
	}
}

// Write implements Device. A write of two bytes or more selects the item
// named by its low 16 bits, at either port (QEMU's combined port selects on
// any 16-bit write); one-byte writes are data writes, ignored because the
// device is read-only.
func (f *FWCfg) Write(offset uint64, data []byte) {
	if len(data) < 2 {
		return
	}
	f.mu.Lock()
	f.selectKey(binary.LittleEndian.Uint16(data))
	f.mu.Unlock()
}
