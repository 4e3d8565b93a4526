package vmm

import (
	"encoding/binary"
	"fmt"

	"vmm/guestmem"
)

// Minimal ACPI tables (ACPI 6.4): RSDP → XSDT → FADT (hardware-reduced,
// pointing at the DSDT, dsdt.go) and MADT. Kernels built without MP-table
// support (Debian's cloud kernel has no CONFIG_X86_MPPARSE) learn their
// CPUs and IOAPIC from the MADT, and kernels built without virtio-mmio
// command-line devices find the devices in the DSDT. They live in the BIOS
// area below 1 MiB, which the e820 map reserves and Linux scans for the
// RSDP.
const (
	sdtHeaderSize  = 36
	fadtSize       = 276 // revision 6
	fadtRevision   = 6
	fadtFlagsHWRed = 1 << 20 // HW_REDUCED_ACPI: no PM timer, GPEs or SCI
	iapcNoVGA      = 1 << 2
	iapcNoCMOS     = 1 << 5
	madtPCATCompat = 1 // the 8259s exist (in-kernel irqchip)
	madtLAPIC      = 0
	madtIOAPIC     = 1
	madtLAPICNMI   = 4
)

// sdtHeader builds the 36-byte header shared by every ACPI table; the
// checksum is filled in by finishSDT once the body is appended.
func sdtHeader(sig string, rev uint8) []byte {
	h := make([]byte, sdtHeaderSize)
	copy(h[0:], sig)
	h[8] = rev
	copy(h[10:], "VMMGO ")
	copy(h[16:], "VMMTABLE")
	binary.LittleEndian.PutUint32(h[24:], 1)
	copy(h[28:], "VMMG")
	binary.LittleEndian.PutUint32(h[32:], 1)
	return h
}

// finishSDT sets the table's length and checksum.
func finishSDT(t []byte) []byte {
	binary.LittleEndian.PutUint32(t[4:], uint32(len(t)))
	t[9] = 0
	t[9] = checksum(t)
	return t
}

// acpiTables returns each table with the guest-physical address it goes at,
// for ncpu vCPUs and nvirtio virtio-mmio devices.
func acpiTables(ncpu, nvirtio int) (map[uint64][]byte, error) {
	le := binary.LittleEndian
	dsdt, err := buildDSDT(nvirtio)
	if err != nil {
		return nil, err
	}

	fadt := append(sdtHeader("FACP", fadtRevision), make([]byte, fadtSize-sdtHeaderSize)...)
	le.PutUint32(fadt[40:], acpiDSDTAddr)
	le.PutUint16(fadt[109:], iapcNoVGA|iapcNoCMOS)
	le.PutUint32(fadt[112:], fadtFlagsHWRed)
	le.PutUint64(fadt[140:], acpiDSDTAddr) // X_DSDT
	copy(fadt[268:], "VMMGOKVM")           // hypervisor vendor identity
	fadt = finishSDT(fadt)

	madt := sdtHeader("APIC", 5)
	madt = le.AppendUint32(madt, lapicAddr)
	madt = le.AppendUint32(madt, madtPCATCompat)
	for i := 0; i < ncpu; i++ {
		madt = append(madt, madtLAPIC, 8, uint8(i), uint8(i), 1, 0, 0, 0) // enabled
	}
	madt = append(madt, madtIOAPIC, 12, uint8(ncpu), 0)
	madt = le.AppendUint32(madt, ioapicAddr)
	madt = le.AppendUint32(madt, 0)                     // GSI base
	madt = append(madt, madtLAPICNMI, 6, 0xff, 0, 0, 1) // all CPUs, LINT1
	madt = finishSDT(madt)

	xsdt := sdtHeader("XSDT", 1)
	xsdt = le.AppendUint64(xsdt, acpiFADTAddr)
	xsdt = le.AppendUint64(xsdt, acpiMADTAddr)
	xsdt = finishSDT(xsdt)

	rsdp := make([]byte, 36)
	copy(rsdp[0:], "RSD PTR ")
	copy(rsdp[9:], "VMMGO ")
	rsdp[15] = 2 // ACPI 2.0+: use the XSDT
	le.PutUint32(rsdp[20:], 36)
	le.PutUint64(rsdp[24:], acpiXSDTAddr)
	rsdp[8] = checksum(rsdp[:20])
	rsdp[32] = checksum(rsdp)

	tables := map[uint64][]byte{acpiRSDPAddr: rsdp, acpiXSDTAddr: xsdt, acpiFADTAddr: fadt, acpiDSDTAddr: dsdt, acpiMADTAddr: madt}
	// Each table must end before the next begins.
	order := []uint64{acpiRSDPAddr, acpiXSDTAddr, acpiFADTAddr, acpiMADTAddr, acpiDSDTAddr, acpiEnd}
	for i := 0; i+1 < len(order); i++ {
		if a := order[i]; a+uint64(len(tables[a])) > order[i+1] {
			return nil, fmt.Errorf("ACPI table at %#x (%d bytes) overlaps the next", a, len(tables[a]))
		}
	}
	return tables, nil
}

// writeACPI places the ACPI tables in guest RAM.
func writeACPI(mem *guestmem.Memory, ncpu, nvirtio int) error {
	tables, err := acpiTables(ncpu, nvirtio)
	if err != nil {
		return err
	}
	for addr, t := range tables {
		if err := mem.Write(addr, t); err != nil {
			return err
		}
	}
	return nil
}
