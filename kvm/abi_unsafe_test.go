//go:build linux

package kvm

import (
	"testing"
	"unsafe"
)

// runOffset is the absolute kvm_run offset of a byte offset in the exit union.
func runOffset(inUnion uintptr) uintptr { return unsafe.Offsetof(Run{}.Exit) + inUnion }

// ioctlSize is the argument size an ioctl request number encodes
// (_IOC_SIZE: 14 bits from bit 16).
func ioctlSize(req uintptr) uintptr { return req >> 16 & (1<<14 - 1) }

// abiMarker is a value no encoder writes by itself, used to find where a
// field lands in an encoded buffer.
const abiMarker = 0xc0ffee15

// encodedCPUIDOffset is the byte offset at which encodeCPUID puts the field
// that set marks in entry i of a kvm_cpuid2 buffer.
func encodedCPUIDOffset(i int, set func(*CPUIDEntry2)) uintptr {
	entries := make([]CPUIDEntry2, i+1)
	set(&entries[i])
	for w, v := range encodeCPUID(entries) {
		if v == abiMarker {
			return uintptr(w) * 4
		}
	}
	return ^uintptr(0) // not encoded at all
}

// encodedMSROffset is the byte offset at which msrBuffer puts the field
// that set marks in entry i of a kvm_msrs buffer.
func encodedMSROffset(i int, set func(*MSREntry)) uintptr {
	entries := make([]MSREntry, i+1)
	set(&entries[i])
	for w, v := range msrBuffer(entries) {
		if v == abiMarker {
			return uintptr(w) * 8
		}
	}
	return ^uintptr(0)
}

// abiLayout is the output of testdata/abi.c compiled with gcc against the
// kernel UAPI headers (linux-libc-dev 6.1): {what, the value Go computes,
// the value C computes}. TestABITablesAreCurrent re-runs abi.c.
var abiLayout = []struct {
	name   string
	goVal  uintptr
	cValue uintptr
}{
	{"struct kvm_regs", unsafe.Sizeof(Regs{}), 144},
	{"kvm_regs.rbp", unsafe.Offsetof(Regs{}.RBP), 56},
	{"kvm_regs.r8", unsafe.Offsetof(Regs{}.R8), 64},
	{"kvm_regs.rip", unsafe.Offsetof(Regs{}.RIP), 128},
	{"kvm_regs.rflags", unsafe.Offsetof(Regs{}.RFlags), 136},
	{"struct kvm_segment", unsafe.Sizeof(Segment{}), 24},
	{"kvm_segment.limit", unsafe.Offsetof(Segment{}.Limit), 8},
	{"kvm_segment.selector", unsafe.Offsetof(Segment{}.Selector), 12},
	{"kvm_segment.type", unsafe.Offsetof(Segment{}.Type), 14},
	{"kvm_segment.present", unsafe.Offsetof(Segment{}.Present), 15},
	{"kvm_segment.dpl", unsafe.Offsetof(Segment{}.DPL), 16},
	{"kvm_segment.db", unsafe.Offsetof(Segment{}.DB), 17},
	{"kvm_segment.s", unsafe.Offsetof(Segment{}.S), 18},
	{"kvm_segment.l", unsafe.Offsetof(Segment{}.L), 19},
	{"kvm_segment.g", unsafe.Offsetof(Segment{}.G), 20},
	{"kvm_segment.avl", unsafe.Offsetof(Segment{}.AVL), 21},
	{"kvm_segment.unusable", unsafe.Offsetof(Segment{}.Unusable), 22},
	{"kvm_segment.padding", unsafe.Offsetof(Segment{}.Padding), 23},
	{"struct kvm_dtable", unsafe.Sizeof(DTable{}), 16},
	{"kvm_dtable.limit", unsafe.Offsetof(DTable{}.Limit), 8},
	{"kvm_dtable.padding", unsafe.Offsetof(DTable{}.Padding), 10},
	{"struct kvm_sregs", unsafe.Sizeof(Sregs{}), 312},
	{"kvm_sregs.cs", unsafe.Offsetof(Sregs{}.CS), 0},
	{"kvm_sregs.ds", unsafe.Offsetof(Sregs{}.DS), 24},
	{"kvm_sregs.es", unsafe.Offsetof(Sregs{}.ES), 48},
	{"kvm_sregs.fs", unsafe.Offsetof(Sregs{}.FS), 72},
	{"kvm_sregs.gs", unsafe.Offsetof(Sregs{}.GS), 96},
	{"kvm_sregs.ss", unsafe.Offsetof(Sregs{}.SS), 120},
	{"kvm_sregs.tr", unsafe.Offsetof(Sregs{}.TR), 144},
	{"kvm_sregs.ldt", unsafe.Offsetof(Sregs{}.LDT), 168},
	{"kvm_sregs.gdt", unsafe.Offsetof(Sregs{}.GDT), 192},
	{"kvm_sregs.idt", unsafe.Offsetof(Sregs{}.IDT), 208},
	{"kvm_sregs.cr0", unsafe.Offsetof(Sregs{}.CR0), 224},
	{"kvm_sregs.cr2", unsafe.Offsetof(Sregs{}.CR2), 232},
	{"kvm_sregs.cr3", unsafe.Offsetof(Sregs{}.CR3), 240},
	{"kvm_sregs.cr4", unsafe.Offsetof(Sregs{}.CR4), 248},
	{"kvm_sregs.cr8", unsafe.Offsetof(Sregs{}.CR8), 256},
	{"kvm_sregs.efer", unsafe.Offsetof(Sregs{}.EFER), 264},
	{"kvm_sregs.apic_base", unsafe.Offsetof(Sregs{}.APICBase), 272},
	{"kvm_sregs.interrupt_bitmap", unsafe.Offsetof(Sregs{}.InterruptBitmap), 280},
	{"struct kvm_fpu", unsafe.Sizeof(FPU{}), 416},
	{"kvm_fpu.fcw", unsafe.Offsetof(FPU{}.FCW), 128},
	{"kvm_fpu.fsw", unsafe.Offsetof(FPU{}.FSW), 130},
	{"kvm_fpu.ftwx", unsafe.Offsetof(FPU{}.FTWX), 132},
	{"kvm_fpu.last_opcode", unsafe.Offsetof(FPU{}.LastOpcode), 134},
	{"kvm_fpu.last_ip", unsafe.Offsetof(FPU{}.LastIP), 136},
	{"kvm_fpu.last_dp", unsafe.Offsetof(FPU{}.LastDP), 144},
	{"kvm_fpu.xmm", unsafe.Offsetof(FPU{}.XMM), 152},
	{"kvm_fpu.mxcsr", unsafe.Offsetof(FPU{}.MXCSR), 408},
	{"kvm_fpu.pad2", unsafe.Offsetof(FPU{}.Pad2), 412},
	{"struct kvm_msr_entry", unsafe.Sizeof(MSREntry{}), 16},
	{"kvm_msr_entry.index", unsafe.Offsetof(MSREntry{}.Index), 0},
	{"kvm_msr_entry.data", unsafe.Offsetof(MSREntry{}.Data), 8},
	{"struct kvm_cpuid_entry2", unsafe.Sizeof(CPUIDEntry2{}), 40},
	{"kvm_cpuid_entry2.index", unsafe.Offsetof(CPUIDEntry2{}.Index), 4},
	{"kvm_cpuid_entry2.flags", unsafe.Offsetof(CPUIDEntry2{}.Flags), 8},
	{"kvm_cpuid_entry2.eax", unsafe.Offsetof(CPUIDEntry2{}.EAX), 12},
	{"kvm_cpuid_entry2.ebx", unsafe.Offsetof(CPUIDEntry2{}.EBX), 16},
	{"kvm_cpuid_entry2.ecx", unsafe.Offsetof(CPUIDEntry2{}.ECX), 20},
	{"kvm_cpuid_entry2.edx", unsafe.Offsetof(CPUIDEntry2{}.EDX), 24},
	{"kvm_cpuid_entry2.padding", unsafe.Offsetof(CPUIDEntry2{}.Padding), 28},
	{"struct kvm_lapic_state", unsafe.Sizeof(LAPICState{}), 1024},
	{"struct kvm_vcpu_events", unsafe.Sizeof(VCPUEvents{}), 64},
	{"kvm_vcpu_events.exception", unsafe.Offsetof(VCPUEvents{}.Exception), 0},
	{"kvm_vcpu_events.exception.error_code", unsafe.Offsetof(VCPUEvents{}.Exception.ErrorCode), 4},
	{"kvm_vcpu_events.interrupt", unsafe.Offsetof(VCPUEvents{}.Interrupt), 8},
	{"kvm_vcpu_events.nmi", unsafe.Offsetof(VCPUEvents{}.NMI), 12},
	{"kvm_vcpu_events.sipi_vector", unsafe.Offsetof(VCPUEvents{}.SIPIVector), 16},
	{"kvm_vcpu_events.flags", unsafe.Offsetof(VCPUEvents{}.Flags), 20},
	{"kvm_vcpu_events.smi", unsafe.Offsetof(VCPUEvents{}.SMI), 24},
	{"kvm_vcpu_events.triple_fault", unsafe.Offsetof(VCPUEvents{}.TripleFault), 28},
	{"kvm_vcpu_events.reserved", unsafe.Offsetof(VCPUEvents{}.Reserved), 29},
	{"kvm_vcpu_events.exception_has_payload", unsafe.Offsetof(VCPUEvents{}.ExceptionHasPayload), 55},
	{"kvm_vcpu_events.exception_payload", unsafe.Offsetof(VCPUEvents{}.ExceptionPayload), 56},
	{"struct kvm_xsave", unsafe.Sizeof(XSave{}), 4096},
	{"struct kvm_xcr", unsafe.Sizeof(XCR{}), 16},
	{"kvm_xcr.value", unsafe.Offsetof(XCR{}.Value), 8},
	{"struct kvm_xcrs", unsafe.Sizeof(XCRS{}), 392},
	{"kvm_xcrs.flags", unsafe.Offsetof(XCRS{}.Flags), 4},
	{"kvm_xcrs.xcrs", unsafe.Offsetof(XCRS{}.XCRs), 8},
	{"kvm_xcrs.padding", unsafe.Offsetof(XCRS{}.Padding), 264},
	{"struct kvm_translation", unsafe.Sizeof(Translation{}), 24},
	{"kvm_translation.physical_address", unsafe.Offsetof(Translation{}.PhysicalAddress), 8},
	{"kvm_translation.valid", unsafe.Offsetof(Translation{}.Valid), 16},
	{"kvm_translation.writeable", unsafe.Offsetof(Translation{}.Writeable), 17},
	{"kvm_translation.usermode", unsafe.Offsetof(Translation{}.Usermode), 18},
	{"kvm_translation.pad", unsafe.Offsetof(Translation{}.Pad), 19},
	{"struct kvm_userspace_memory_region", unsafe.Sizeof(UserspaceMemoryRegion{}), 32},
	{"kvm_userspace_memory_region.flags", unsafe.Offsetof(UserspaceMemoryRegion{}.Flags), 4},
	{"kvm_userspace_memory_region.guest_phys_addr", unsafe.Offsetof(UserspaceMemoryRegion{}.GuestPhysAddr), 8},
	{"kvm_userspace_memory_region.memory_size", unsafe.Offsetof(UserspaceMemoryRegion{}.MemorySize), 16},
	{"kvm_userspace_memory_region.userspace_addr", unsafe.Offsetof(UserspaceMemoryRegion{}.UserspaceAddr), 24},
	{"struct kvm_ioeventfd", unsafe.Sizeof(IOEventFD{}), 64},
	{"kvm_ioeventfd.addr", unsafe.Offsetof(IOEventFD{}.Addr), 8},
	{"kvm_ioeventfd.len", unsafe.Offsetof(IOEventFD{}.Len), 16},
	{"kvm_ioeventfd.fd", unsafe.Offsetof(IOEventFD{}.FD), 20},
	{"kvm_ioeventfd.flags", unsafe.Offsetof(IOEventFD{}.Flags), 24},
	{"kvm_ioeventfd.pad", unsafe.Offsetof(IOEventFD{}.Pad), 28},
	{"struct kvm_irqfd", unsafe.Sizeof(IRQFD{}), 32},
	{"kvm_irqfd.gsi", unsafe.Offsetof(IRQFD{}.GSI), 4},
	{"kvm_irqfd.flags", unsafe.Offsetof(IRQFD{}.Flags), 8},
	{"kvm_irqfd.resamplefd", unsafe.Offsetof(IRQFD{}.ResampleFD), 12},
	{"kvm_irqfd.pad", unsafe.Offsetof(IRQFD{}.Pad), 16},
	{"struct kvm_irq_routing_entry", unsafe.Sizeof(IRQRoutingEntry{}), 48},
	{"kvm_irq_routing_entry.type", unsafe.Offsetof(IRQRoutingEntry{}.Type), 4},
	{"kvm_irq_routing_entry.flags", unsafe.Offsetof(IRQRoutingEntry{}.Flags), 8},
	{"kvm_irq_routing_entry.pad", unsafe.Offsetof(IRQRoutingEntry{}.Pad), 12},
	{"kvm_irq_routing_entry.u", unsafe.Offsetof(IRQRoutingEntry{}.U), 16},
	{"kvm_irq_routing_entry.u.irqchip.pin", unsafe.Offsetof(IRQRoutingEntry{}.U) + 4, 20},
	{"struct kvm_msi", unsafe.Sizeof(MSI{}), 32},
	{"kvm_msi.address_hi", unsafe.Offsetof(MSI{}.AddressHi), 4},
	{"kvm_msi.data", unsafe.Offsetof(MSI{}.Data), 8},
	{"kvm_msi.flags", unsafe.Offsetof(MSI{}.Flags), 12},
	{"kvm_msi.devid", unsafe.Offsetof(MSI{}.DevID), 16},
	{"kvm_msi.pad", unsafe.Offsetof(MSI{}.Pad), 20},
	{"struct kvm_clock_data", unsafe.Sizeof(ClockData{}), 48},
	{"kvm_clock_data.flags", unsafe.Offsetof(ClockData{}.Flags), 8},
	{"kvm_clock_data.realtime", unsafe.Offsetof(ClockData{}.Realtime), 16},
	{"kvm_clock_data.host_tsc", unsafe.Offsetof(ClockData{}.HostTSC), 24},
	{"kvm_clock_data.pad", unsafe.Offsetof(ClockData{}.Pad), 32},
	{"struct kvm_pit_config", unsafe.Sizeof(PITConfig{}), 64},
	{"struct kvm_irq_level", unsafe.Sizeof(irqLevel{}), 8},
	{"kvm_irq_level.level", unsafe.Offsetof(irqLevel{}.Level), 4},
	{"struct kvm_mp_state", unsafe.Sizeof(mpState{}), 4},
	{"struct kvm_run", unsafe.Sizeof(Run{}), 2352},
	{"kvm_run.immediate_exit", unsafe.Offsetof(Run{}.ImmediateExit), 1},
	{"kvm_run.exit_reason", unsafe.Offsetof(Run{}.ExitReason), 8},
	{"kvm_run.ready_for_interrupt_injection", unsafe.Offsetof(Run{}.ReadyForInterruptInjection), 12},
	{"kvm_run.if_flag", unsafe.Offsetof(Run{}.IfFlag), 13},
	{"kvm_run.flags", unsafe.Offsetof(Run{}.Flags), 14},
	{"kvm_run.cr8", unsafe.Offsetof(Run{}.CR8), 16},
	{"kvm_run.apic_base", unsafe.Offsetof(Run{}.APICBase), 24},
	{"kvm_run.hw", unsafe.Offsetof(Run{}.Exit), 32},
	{"kvm_run.kvm_valid_regs", unsafe.Offsetof(Run{}.ValidRegs), 288},
	{"kvm_run.kvm_dirty_regs", unsafe.Offsetof(Run{}.DirtyRegs), 296},
	{"kvm_run.s", unsafe.Offsetof(Run{}.SyncRegs), 304},
	{"kvm_run.io.direction", runOffset(0), 32},
	{"kvm_run.io.size", runOffset(1), 33},
	{"kvm_run.io.port", runOffset(2), 34},
	{"kvm_run.io.count", runOffset(4), 36},
	{"kvm_run.io.data_offset", runOffset(unionIODataOffset), 40},
	{"kvm_run.mmio.phys_addr", runOffset(0), 32},
	{"kvm_run.mmio.data", runOffset(unionMMIOData), 40},
	{"kvm_run.mmio.len", runOffset(unionMMIOLen), 48},
	{"kvm_run.mmio.is_write", runOffset(unionMMIOIsWrite), 52},
	{"kvm_run.internal.suberror", runOffset(0), 32},
	{"kvm_run.internal.ndata", runOffset(unionInternalNData), 36},
	{"kvm_run.internal.data", runOffset(unionInternalData), 40},
	{"kvm_run.fail_entry.hardware_entry_failure_reason", runOffset(0), 32},
	{"kvm_run.fail_entry.cpu", runOffset(unionFailEntryCPU), 40},
	{"kvm_run.system_event.type", runOffset(0), 32},
	{"kvm_run.system_event.flags", runOffset(unionSystemEventArg), 40},
	{"kvm_run.ex.exception", runOffset(0), 32},
	{"kvm_run.ex.error_code", runOffset(4), 36},
	{"struct kvm_cpuid2 (kvmGetSupportedCPUID)", ioctlSize(kvmGetSupportedCPUID), 8},
	{"struct kvm_cpuid2 (kvmGetCPUID2)", ioctlSize(kvmGetCPUID2), 8},
	{"struct kvm_cpuid2 (kvmSetCPUID2)", ioctlSize(kvmSetCPUID2), 8},
	{"struct kvm_msrs (kvmGetMSRs)", ioctlSize(kvmGetMSRs), 8},
	{"struct kvm_msrs (kvmSetMSRs)", ioctlSize(kvmSetMSRs), 8},
	{"struct kvm_msr_list (kvmGetMSRIndexList)", ioctlSize(kvmGetMSRIndexList), 4},
	{"struct kvm_irq_routing (kvmSetGSIRouting)", ioctlSize(kvmSetGSIRouting), 8},
	{"kvm_cpuid2.entries[0].function", encodedCPUIDOffset(0, func(e *CPUIDEntry2) { e.Function = abiMarker }), 8},
	{"kvm_cpuid2.entries[0].index", encodedCPUIDOffset(0, func(e *CPUIDEntry2) { e.Index = abiMarker }), 12},
	{"kvm_cpuid2.entries[0].flags", encodedCPUIDOffset(0, func(e *CPUIDEntry2) { e.Flags = abiMarker }), 16},
	{"kvm_cpuid2.entries[0].eax", encodedCPUIDOffset(0, func(e *CPUIDEntry2) { e.EAX = abiMarker }), 20},
	{"kvm_cpuid2.entries[0].ebx", encodedCPUIDOffset(0, func(e *CPUIDEntry2) { e.EBX = abiMarker }), 24},
	{"kvm_cpuid2.entries[0].ecx", encodedCPUIDOffset(0, func(e *CPUIDEntry2) { e.ECX = abiMarker }), 28},
	{"kvm_cpuid2.entries[0].edx", encodedCPUIDOffset(0, func(e *CPUIDEntry2) { e.EDX = abiMarker }), 32},
	{"kvm_cpuid2.entries[1].function", encodedCPUIDOffset(1, func(e *CPUIDEntry2) { e.Function = abiMarker }), 48},
	{"kvm_msrs.entries[0].index", encodedMSROffset(0, func(e *MSREntry) { e.Index = abiMarker }), 8},
	{"kvm_msrs.entries[0].data", encodedMSROffset(0, func(e *MSREntry) { e.Data = abiMarker }), 16},
	{"kvm_msrs.entries[1].index", encodedMSROffset(1, func(e *MSREntry) { e.Index = abiMarker }), 24},
	{"cpuid entry words", cpuidEntryWords * 4, 40},
	{"routing entry words", irqRoutingEntryWords * 4, 48},
}

// abiIoctls are the C header's ioctl numbers next to ours.
var abiIoctls = []struct {
	name  string
	goVal uintptr
	cVal  uintptr
}{
	{"KVM_GET_API_VERSION", kvmGetAPIVersion, 0xae00},
	{"KVM_CREATE_VM", kvmCreateVM, 0xae01},
	{"KVM_GET_MSR_INDEX_LIST", kvmGetMSRIndexList, 0xc004ae02},
	{"KVM_CHECK_EXTENSION", kvmCheckExtension, 0xae03},
	{"KVM_GET_VCPU_MMAP_SIZE", kvmGetVCPUMmapSize, 0xae04},
	{"KVM_GET_SUPPORTED_CPUID", kvmGetSupportedCPUID, 0xc008ae05},
	{"KVM_CREATE_VCPU", kvmCreateVCPU, 0xae41},
	{"KVM_SET_USER_MEMORY_REGION", kvmSetUserMemoryRegion, 0x4020ae46},
	{"KVM_SET_TSS_ADDR", kvmSetTSSAddr, 0xae47},
	{"KVM_SET_IDENTITY_MAP_ADDR", kvmSetIdentityMapAddr, 0x4008ae48},
	{"KVM_CREATE_IRQCHIP", kvmCreateIRQChip, 0xae60},
	{"KVM_IRQ_LINE", kvmIRQLine, 0x4008ae61},
	{"KVM_SET_GSI_ROUTING", kvmSetGSIRouting, 0x4008ae6a},
	{"KVM_IRQFD", kvmIRQFD, 0x4020ae76},
	{"KVM_CREATE_PIT2", kvmCreatePIT2, 0x4040ae77},
	{"KVM_IOEVENTFD", kvmIOEventFD, 0x4040ae79},
	{"KVM_SET_CLOCK", kvmSetClock, 0x4030ae7b},
	{"KVM_GET_CLOCK", kvmGetClock, 0x8030ae7c},
	{"KVM_SIGNAL_MSI", kvmSignalMSI, 0x4020aea5},
	{"KVM_RUN", kvmRun, 0xae80},
	{"KVM_GET_REGS", kvmGetRegs, 0x8090ae81},
	{"KVM_SET_REGS", kvmSetRegs, 0x4090ae82},
	{"KVM_GET_SREGS", kvmGetSregs, 0x8138ae83},
	{"KVM_SET_SREGS", kvmSetSregs, 0x4138ae84},
	{"KVM_TRANSLATE", kvmTranslate, 0xc018ae85},
	{"KVM_GET_MSRS", kvmGetMSRs, 0xc008ae88},
	{"KVM_SET_MSRS", kvmSetMSRs, 0x4008ae89},
	{"KVM_GET_FPU", kvmGetFPU, 0x81a0ae8c},
	{"KVM_SET_FPU", kvmSetFPU, 0x41a0ae8d},
	{"KVM_GET_LAPIC", kvmGetLAPIC, 0x8400ae8e},
	{"KVM_SET_LAPIC", kvmSetLAPIC, 0x4400ae8f},
	{"KVM_SET_CPUID2", kvmSetCPUID2, 0x4008ae90},
	{"KVM_GET_CPUID2", kvmGetCPUID2, 0xc008ae91},
	{"KVM_GET_MP_STATE", kvmGetMPState, 0x8004ae98},
	{"KVM_SET_MP_STATE", kvmSetMPState, 0x4004ae99},
	{"KVM_GET_VCPU_EVENTS", kvmGetVCPUEvents, 0x8040ae9f},
	{"KVM_SET_VCPU_EVENTS", kvmSetVCPUEvents, 0x4040aea0},
	{"KVM_GET_XSAVE", kvmGetXSave, 0x9000aea4},
	{"KVM_SET_XSAVE", kvmSetXSave, 0x5000aea5},
	{"KVM_GET_XCRS", kvmGetXCRS, 0x8188aea6},
	{"KVM_SET_XCRS", kvmSetXCRS, 0x4188aea7},
}

func TestABILayoutMatchesKernel(t *testing.T) {
	for _, c := range abiLayout {
		if c.goVal != c.cValue {
			t.Errorf("%s: Go has %d, the kernel header has %d", c.name, c.goVal, c.cValue)
		}
	}
}

func TestIoctlNumbersMatchKernel(t *testing.T) {
	for _, c := range abiIoctls {
		if c.goVal != c.cVal {
			t.Errorf("%s: Go computes %#x, the kernel header says %#x", c.name, c.goVal, c.cVal)
		}
	}
}
