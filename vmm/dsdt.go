package vmm

import (
	"fmt"
)

// The DSDT describes the devices a guest cannot find by probing: COM1 and
// every virtio-mmio device. Linux's virtio_mmio driver binds to ACPI id
// LNRO0005 (drivers/virtio/virtio_mmio.c), so a kernel built without
// VIRTIO_MMIO_CMDLINE_DEVICES finds our devices here; one built with it
// finds them on the command line too (virtioCmdline). In ASL:
//
//	DefinitionBlock ("", "DSDT", 2, "VMMGO", "VMMTABLE", 1) {
//	    Scope (\_SB) {
//	        Device (COM1) {
//	            Name (_HID, EisaId ("PNP0501"))
//	            Name (_UID, 1)
//	            Name (_CRS, ResourceTemplate () {
//	                IO (Decode16, 0x03F8, 0x03F8, 0x00, 0x08)
//	                IRQNoFlags () {4}
//	            })
//	        }
//	        Device (VR00) {            // one per device i: VR00, VR01, ...
//	            Name (_HID, "LNRO0005")
//	            Name (_UID, 0)         // i
//	            Name (_CRS, ResourceTemplate () {
//	                Memory32Fixed (ReadWrite, 0xD0000000, 0x00001000)   // virtioSlot(i)
//	                Interrupt (ResourceConsumer, Edge, ActiveHigh, Exclusive) {5}
//	            })
//	        }
//	    }
//	}
const (
	dsdtRevision    = 2 // 64-bit integers
	virtioMMIOACPID = "LNRO0005"
	com1PNPID       = "PNP0501" // 16550-compatible UART
	serialPortCount = 8         // COM1's I/O ports
)

// dsdtMax is how many bytes the DSDT may take: it is the last table in the
// ACPI area.
const dsdtMax = acpiEnd - acpiDSDTAddr

// virtioACPIName is the DSDT name of the i-th virtio-mmio device.
func virtioACPIName(i int) string { return fmt.Sprintf("VR%02d", i) }

// buildDSDT returns the DSDT for nvirtio virtio-mmio devices in the slots
// virtioSlot gives, checksummed. It refuses a count the slots or the ACPI
// area cannot hold.
func buildDSDT(nvirtio int) ([]byte, error) { return buildDSDTWithin(nvirtio, dsdtMax) }

// buildDSDTWithin is buildDSDT for a table of at most limit bytes.
func buildDSDTWithin(nvirtio, limit int) ([]byte, error) {
	if nvirtio < 0 || nvirtio > MaxVirtioDevices {
		return nil, fmt.Errorf("the DSDT cannot describe %d virtio devices: at most %d fit", nvirtio, MaxVirtioDevices)
	}
	devs := []amlTerm{amlDevice("COM1",
		amlName("_HID", amlEISAID(com1PNPID)),
		amlName("_UID", amlInteger(1)),
		amlName("_CRS", amlResourceTemplate(
			resIO(serialPort, serialPort, 0, serialPortCount),
			resIRQ(serialIRQ),
		)),
	)}
	for i := 0; i < nvirtio; i++ {
		base, gsi := virtioSlot(i)
		devs = append(devs, amlDevice(virtioACPIName(i),
			amlName("_HID", amlString(virtioMMIOACPID)),
			amlName("_UID", amlInteger(uint64(i))),
			amlName("_CRS", amlResourceTemplate(
				resMemory32(true, uint32(base), virtioMMIOSize),
				resInterrupt(irqConsumer|irqEdge, gsi),
			)),
		))
	}
	body, err := amlScope(`\_SB`, devs...).encode()
	if err != nil {
		return nil, fmt.Errorf("DSDT: %w", err)
	}
	dsdt := finishSDT(append(sdtHeader("DSDT", dsdtRevision), body...))
	if len(dsdt) > limit {
		return nil, fmt.Errorf("the DSDT for %d virtio devices is %d bytes; only %d fit at %#x", nvirtio, len(dsdt), limit, acpiDSDTAddr)
	}
	return dsdt, nil
}
