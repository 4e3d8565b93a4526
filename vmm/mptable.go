package vmm

import (
	"encoding/binary"
	"fmt"
)

// Intel MultiProcessor Specification 1.4 tables, which tell the guest how
// many CPUs there are, where the IOAPIC is and how ISA IRQs are wired.
const (
	mpTableAddr      = ebdaStart // Linux scans the last KiB of base memory
	mpTableLimit     = highMemStart - ebdaStart
	mpFloatSize      = 16
	mpHeaderSize     = 44
	mpProcEntrySize  = 20
	mpOtherEntrySize = 8
	mpIOAPICPins     = 24
	lapicVersion     = 0x14
	ioapicVersion    = 0x11
	mpISABus         = 0

	mpEntryProcessor = 0
	mpEntryBus       = 1
	mpEntryIOAPIC    = 2
	mpEntryIOInt     = 3
	mpEntryLocalInt  = 4

	mpIntINT    = 0
	mpIntNMI    = 1
	mpIntExtINT = 3
	mpCPUEnable = 1
	mpCPUBoot   = 2
)

// MaxMPTableCPUs is how many processor entries fit in the EBDA window.
const MaxMPTableCPUs = (mpTableLimit - mpFloatSize - mpHeaderSize - 2*mpOtherEntrySize -
	(mpIOAPICPins+2)*mpOtherEntrySize) / mpProcEntrySize

// buildMPTable returns the floating pointer and configuration table for
// ncpu processors with APIC ids 0..ncpu-1, placed at mpTableAddr.
func buildMPTable(ncpu int) ([]byte, error) {
	if ncpu < 1 || ncpu > MaxMPTableCPUs {
		return nil, fmt.Errorf("MP table: %d CPUs does not fit (1..%d)", ncpu, MaxMPTableCPUs)
	}
	le := binary.LittleEndian
	ioapicID := uint8(ncpu)
	var entries []byte
	count := 0
	add := func(e []byte) { entries = append(entries, e...); count++ }
	for i := 0; i < ncpu; i++ {
		e := make([]byte, mpProcEntrySize)
		e[0] = mpEntryProcessor
		e[1] = uint8(i)
		e[2] = lapicVersion
		e[3] = mpCPUEnable
		if i == 0 {
			e[3] |= mpCPUBoot
		}
		le.PutUint32(e[4:], 0x600) // family 6 signature
		le.PutUint32(e[8:], 0x201) // FPU and APIC present
		add(e)
	}
	add([]byte{mpEntryBus, mpISABus, 'I', 'S', 'A', ' ', ' ', ' '})
	ioapic := make([]byte, mpOtherEntrySize)
	ioapic[0], ioapic[1], ioapic[2], ioapic[3] = mpEntryIOAPIC, ioapicID, ioapicVersion, 1
	le.PutUint32(ioapic[4:], ioapicAddr)
	add(ioapic)
	for irq := 0; irq < mpIOAPICPins; irq++ {
		// Flags 0: polarity and trigger conform to the ISA bus (active high, edge).
		add([]byte{mpEntryIOInt, mpIntINT, 0, 0, mpISABus, uint8(irq), ioapicID, uint8(irq)})
	}
	add([]byte{mpEntryLocalInt, mpIntExtINT, 0, 0, mpISABus, 0, 0xff, 0})
	add([]byte{mpEntryLocalInt, mpIntNMI, 0, 0, mpISABus, 0, 0xff, 1})

	hdr := make([]byte, mpHeaderSize)
	copy(hdr[0:], "PCMP")
	le.PutUint16(hdr[4:], uint16(mpHeaderSize+len(entries)))
	hdr[6] = 4 // spec revision 1.4
	copy(hdr[8:], "VMM     ")
	copy(hdr[16:], "GO-KVM-VMM  ")
	le.PutUint16(hdr[34:], uint16(count))
	le.PutUint32(hdr[36:], lapicAddr)
	table := append(hdr, entries...)
	table[7] = checksum(table)

	fp := make([]byte, mpFloatSize)
	copy(fp[0:], "_MP_")
	le.PutUint32(fp[4:], mpTableAddr+mpFloatSize)
	fp[8] = 1 // length in 16-byte units
	fp[9] = 4
	fp[10] = checksum(fp)
	return append(fp, table...), nil
}

// checksum returns the byte that makes b sum to zero modulo 256.
func checksum(b []byte) uint8 {
	var s uint8
	for _, c := range b {
		s += c
	}
	return -s
}
