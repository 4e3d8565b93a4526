//go:build linux

package kvm

// Regs mirrors struct kvm_regs: the general purpose registers of a vCPU.
type Regs struct {
	RAX, RBX, RCX, RDX uint64
	RSI, RDI, RSP, RBP uint64
	R8, R9, R10, R11   uint64
	R12, R13, R14, R15 uint64
	RIP, RFlags        uint64
}

// Segment mirrors struct kvm_segment: a segment register with its hidden,
// descriptor-cache part spelled out.
type Segment struct {
	Base     uint64
	Limit    uint32
	Selector uint16
	Type     uint8
	Present  uint8
	DPL      uint8
	DB       uint8
	S        uint8
	L        uint8
	G        uint8
	AVL      uint8
	Unusable uint8
	Padding  uint8
}

// DTable mirrors struct kvm_dtable: the GDTR or IDTR.
type DTable struct {
	Base    uint64
	Limit   uint16
	Padding [3]uint16
}

// Sregs mirrors struct kvm_sregs: segment, descriptor-table and control
// registers, plus the bitmap of pending external interrupts.
type Sregs struct {
	CS, DS, ES, FS, GS, SS Segment
	TR, LDT                Segment
	GDT, IDT               DTable
	CR0, CR2, CR3, CR4     uint64
	CR8                    uint64
	EFER                   uint64
	APICBase               uint64
	InterruptBitmap        [4]uint64
}

// FPU mirrors struct kvm_fpu: x87 and SSE state in the FXSAVE layout KVM uses.
type FPU struct {
	FPR        [8][16]uint8
	FCW        uint16
	FSW        uint16
	FTWX       uint8
	Pad1       uint8
	LastOpcode uint16
	LastIP     uint64
	LastDP     uint64
	XMM        [16][16]uint8
	MXCSR      uint32
	Pad2       uint32
}

// MSREntry mirrors struct kvm_msr_entry (the reserved word is the implicit
// alignment padding before Data).
type MSREntry struct {
	Index uint32
	Data  uint64
}

// CPUIDEntry2 mirrors struct kvm_cpuid_entry2: one CPUID leaf/subleaf result.
type CPUIDEntry2 struct {
	Function uint32
	Index    uint32
	Flags    uint32
	EAX      uint32
	EBX      uint32
	ECX      uint32
	EDX      uint32
	Padding  [3]uint32
}

// CPUID entry flags (kvm_cpuid_entry2.flags).
const (
	CPUIDFlagSignificantIndex = 1 << 0
)

// LAPICState mirrors struct kvm_lapic_state: the local APIC register page
// (registers at their xAPIC MMIO offsets, 16-byte aligned).
type LAPICState struct {
	Regs [1024]byte
}

// Get32 reads the 32-bit LAPIC register at byte offset off. An offset that
// does not fit in the page reads as 0 rather than panicking.
func (l *LAPICState) Get32(off int) uint32 {
	if off < 0 || off > len(l.Regs)-4 {
		return 0
	}
	b := l.Regs[off:]
	return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
}

// Set32 writes the 32-bit LAPIC register at byte offset off and reports
// whether off was inside the page.
func (l *LAPICState) Set32(off int, val uint32) bool {
	if off < 0 || off > len(l.Regs)-4 {
		return false
	}
	b := l.Regs[off:]
	b[0], b[1], b[2], b[3] = byte(val), byte(val>>8), byte(val>>16), byte(val>>24)
	return true
}

// VCPUEvents mirrors struct kvm_vcpu_events: pending/injected exceptions,
// interrupts, NMIs and SMIs. Setting Exception.Injected with
// KVM_SET_VCPU_EVENTS is how a VMM delivers an exception itself.
type VCPUEvents struct {
	Exception           EventException
	Interrupt           EventInterrupt
	NMI                 EventNMI
	SIPIVector          uint32
	Flags               uint32
	SMI                 EventSMI
	TripleFault         EventTripleFault
	Reserved            [26]uint8
	ExceptionHasPayload uint8
	ExceptionPayload    uint64
}

// EventException is kvm_vcpu_events.exception.
type EventException struct {
	Injected     uint8
	Nr           uint8
	HasErrorCode uint8
	Pending      uint8
	ErrorCode    uint32
}

// EventInterrupt is kvm_vcpu_events.interrupt.
type EventInterrupt struct {
	Injected uint8
	Nr       uint8
	Soft     uint8
	Shadow   uint8
}

// EventNMI is kvm_vcpu_events.nmi.
type EventNMI struct {
	Injected uint8
	Pending  uint8
	Masked   uint8
	Pad      uint8
}

// EventSMI is kvm_vcpu_events.smi.
type EventSMI struct {
	SMM          uint8
	Pending      uint8
	SMMInsideNMI uint8
	LatchedInit  uint8
}

// EventTripleFault is kvm_vcpu_events.triple_fault.
type EventTripleFault struct {
	Pending uint8
}

// VCPUEvents.Flags bits: which optional fields KVM_SET_VCPU_EVENTS applies.
const (
	VCPUEventValidNMIPending  = 0x01
	VCPUEventValidSIPIVector  = 0x02
	VCPUEventValidShadow      = 0x04
	VCPUEventValidSMM         = 0x08
	VCPUEventValidPayload     = 0x10
	VCPUEventValidTripleFault = 0x20
)

// XSave mirrors struct kvm_xsave (the fixed 4 KiB region of KVM_GET_XSAVE).
type XSave struct {
	Region [1024]uint32
}

// XCR mirrors struct kvm_xcr: one extended control register.
type XCR struct {
	XCR      uint32
	Reserved uint32
	Value    uint64
}

// XCRS mirrors struct kvm_xcrs.
type XCRS struct {
	NrXCRS  uint32
	Flags   uint32
	XCRs    [16]XCR
	Padding [16]uint64
}

// Translation mirrors struct kvm_translation (KVM_TRANSLATE).
type Translation struct {
	LinearAddress   uint64
	PhysicalAddress uint64
	Valid           uint8
	Writeable       uint8
	Usermode        uint8
	Pad             [5]uint8
}

// UserspaceMemoryRegion mirrors struct kvm_userspace_memory_region: slot
// Slot maps MemorySize bytes at guest physical GuestPhysAddr to host virtual
// UserspaceAddr. MemorySize 0 deletes the slot.
type UserspaceMemoryRegion struct {
	Slot          uint32
	Flags         uint32
	GuestPhysAddr uint64
	MemorySize    uint64
	UserspaceAddr uint64
}

// UserspaceMemoryRegion.Flags bits.
const (
	MemLogDirtyPages = 1 << 0
	MemReadonly      = 1 << 1
)

// IOEventFD mirrors struct kvm_ioeventfd: a guest write of Len bytes to Addr
// (an I/O port with IOEventFDFlagPIO, else an MMIO address) signals the
// eventfd FD inside KVM, with no exit to userspace.
type IOEventFD struct {
	Datamatch uint64
	Addr      uint64
	Len       uint32
	FD        int32
	Flags     uint32
	Pad       [36]uint8
}

// IOEventFD.Flags bits.
const (
	IOEventFDFlagDatamatch = 1 << 0
	IOEventFDFlagPIO       = 1 << 1
	IOEventFDFlagDeassign  = 1 << 2
)

// IRQFD mirrors struct kvm_irqfd: a write to eventfd FD raises GSI.
type IRQFD struct {
	FD         uint32
	GSI        uint32
	Flags      uint32
	ResampleFD uint32
	Pad        [16]uint8
}

// IRQFD.Flags bits.
const (
	IRQFDFlagDeassign = 1 << 0
	IRQFDFlagResample = 1 << 1
)

// IRQRoutingEntry mirrors struct kvm_irq_routing_entry. U is the union: for
// IRQRoutingIRQChip U[0]=irqchip, U[1]=pin; for IRQRoutingMSI U[0]=address_lo,
// U[1]=address_hi, U[2]=data, U[3]=devid. Build entries with NewIRQChipRoute
// and NewMSIRoute.
type IRQRoutingEntry struct {
	GSI   uint32
	Type  uint32
	Flags uint32
	Pad   uint32
	U     [8]uint32
}

// IRQRoutingEntry.Type values.
const (
	IRQRoutingIRQChip = 1
	IRQRoutingMSI     = 2
)

// In-kernel irqchip numbers for NewIRQChipRoute (KVM_IRQCHIP_*).
const (
	IRQChipPICMaster = 0
	IRQChipPICSlave  = 1
	IRQChipIOAPIC    = 2
)

// NewIRQChipRoute routes gsi to pin of an in-kernel irqchip.
func NewIRQChipRoute(gsi, irqchip, pin uint32) IRQRoutingEntry {
	return IRQRoutingEntry{GSI: gsi, Type: IRQRoutingIRQChip, U: [8]uint32{irqchip, pin}}
}

// NewMSIRoute routes gsi to a message-signalled interrupt.
func NewMSIRoute(gsi, addrLo, addrHi, data uint32) IRQRoutingEntry {
	return IRQRoutingEntry{GSI: gsi, Type: IRQRoutingMSI, U: [8]uint32{addrLo, addrHi, data}}
}

// MSI mirrors struct kvm_msi (KVM_SIGNAL_MSI).
type MSI struct {
	AddressLo uint32
	AddressHi uint32
	Data      uint32
	Flags     uint32
	DevID     uint32
	Pad       [12]uint8
}

// ClockData mirrors struct kvm_clock_data: the VM's kvmclock.
type ClockData struct {
	Clock    uint64
	Flags    uint32
	Pad0     uint32
	Realtime uint64
	HostTSC  uint64
	Pad      [4]uint32
}

// ClockData.Flags bits.
const (
	ClockTSCStable = 1 << 1
	ClockRealtime  = 1 << 2
	ClockHostTSC   = 1 << 3
)

// PITConfig mirrors struct kvm_pit_config (KVM_CREATE_PIT2).
type PITConfig struct {
	Flags uint32
	Pad   [15]uint32
}

// PITSpeakerDummy makes the PIT's speaker port 0x61 a dummy in the kernel.
const PITSpeakerDummy = 1

// irqLevel mirrors struct kvm_irq_level (KVM_IRQ_LINE).
type irqLevel struct {
	IRQ   uint32
	Level uint32
}

// mpState mirrors struct kvm_mp_state.
type mpState struct {
	State uint32
}

// Multiprocessing states (kvm_mp_state.mp_state).
const (
	MPStateRunnable      = 0
	MPStateUninitialized = 1
	MPStateInitReceived  = 2
	MPStateHalted        = 3
	MPStateSipiReceived  = 4
)
