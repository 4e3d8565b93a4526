/*
 * abi.c prints the kernel's struct sizes, field offsets and ioctl numbers as
 * Go table rows: {what, the Go expression that computes it, the C value}.
 * abi_unsafe_test.go holds its output; TestABITablesAreCurrent compiles and
 * runs this file and fails when the C values there are stale.
 * Regenerate with: gcc -o /tmp/abi abi.c && /tmp/abi
 */
#include <stdio.h>
#include <stddef.h>
#include <linux/kvm.h>

#define S(c, g) printf("\t{\"struct %s\", unsafe.Sizeof(%s{}), %zu},\n", #c, #g, sizeof(struct c))
#define F(c, f, g, gf) printf("\t{\"%s.%s\", unsafe.Offsetof(%s{}.%s), %zu},\n", #c, #f, #g, #gf, offsetof(struct c, f))
#define R(f, gf) printf("\t{\"kvm_run.%s\", runOffset(%s), %zu},\n", #f, gf, offsetof(struct kvm_run, f))
/* H: the header size an ioctl number for a flexible-array struct carries. */
#define H(c, req) printf("\t{\"struct %s (%s)\", ioctlSize(%s), %zu},\n", #c, #req, #req, sizeof(struct c))
/* CE, ME: where the Go encoder puts one field of the first entry. */
#define CE(f, gf) printf("\t{\"kvm_cpuid2.entries[0].%s\", encodedCPUIDOffset(0, func(e *CPUIDEntry2) { e.%s = abiMarker }), %zu},\n", \
			 #f, #gf, offsetof(struct kvm_cpuid2, entries[0].f))
#define ME(f, gf) printf("\t{\"kvm_msrs.entries[0].%s\", encodedMSROffset(0, func(e *MSREntry) { e.%s = abiMarker }), %zu},\n", \
			 #f, #gf, offsetof(struct kvm_msrs, entries[0].f))
#define I(c, g) printf("\t{\"%s\", %s, 0x%lx},\n", #c, #g, (unsigned long)(c))

int main(void) {
	printf("// sizes and offsets\n");
	S(kvm_regs, Regs); F(kvm_regs, rbp, Regs, RBP); F(kvm_regs, r8, Regs, R8); F(kvm_regs, rip, Regs, RIP); F(kvm_regs, rflags, Regs, RFlags);
	S(kvm_segment, Segment); F(kvm_segment, limit, Segment, Limit); F(kvm_segment, selector, Segment, Selector); F(kvm_segment, type, Segment, Type);
	F(kvm_segment, present, Segment, Present); F(kvm_segment, dpl, Segment, DPL); F(kvm_segment, db, Segment, DB); F(kvm_segment, s, Segment, S);
	F(kvm_segment, l, Segment, L); F(kvm_segment, g, Segment, G); F(kvm_segment, avl, Segment, AVL); F(kvm_segment, unusable, Segment, Unusable); F(kvm_segment, padding, Segment, Padding);
	S(kvm_dtable, DTable); F(kvm_dtable, limit, DTable, Limit); F(kvm_dtable, padding, DTable, Padding);
	S(kvm_sregs, Sregs); F(kvm_sregs, cs, Sregs, CS); F(kvm_sregs, ds, Sregs, DS); F(kvm_sregs, es, Sregs, ES); F(kvm_sregs, fs, Sregs, FS); F(kvm_sregs, gs, Sregs, GS);
	F(kvm_sregs, ss, Sregs, SS); F(kvm_sregs, tr, Sregs, TR); F(kvm_sregs, ldt, Sregs, LDT); F(kvm_sregs, gdt, Sregs, GDT); F(kvm_sregs, idt, Sregs, IDT);
	F(kvm_sregs, cr0, Sregs, CR0); F(kvm_sregs, cr2, Sregs, CR2); F(kvm_sregs, cr3, Sregs, CR3); F(kvm_sregs, cr4, Sregs, CR4); F(kvm_sregs, cr8, Sregs, CR8);
	F(kvm_sregs, efer, Sregs, EFER); F(kvm_sregs, apic_base, Sregs, APICBase); F(kvm_sregs, interrupt_bitmap, Sregs, InterruptBitmap);
	S(kvm_fpu, FPU); F(kvm_fpu, fcw, FPU, FCW); F(kvm_fpu, fsw, FPU, FSW); F(kvm_fpu, ftwx, FPU, FTWX); F(kvm_fpu, last_opcode, FPU, LastOpcode);
	F(kvm_fpu, last_ip, FPU, LastIP); F(kvm_fpu, last_dp, FPU, LastDP); F(kvm_fpu, xmm, FPU, XMM); F(kvm_fpu, mxcsr, FPU, MXCSR); F(kvm_fpu, pad2, FPU, Pad2);
	S(kvm_msr_entry, MSREntry); F(kvm_msr_entry, index, MSREntry, Index); F(kvm_msr_entry, data, MSREntry, Data);
	S(kvm_cpuid_entry2, CPUIDEntry2); F(kvm_cpuid_entry2, index, CPUIDEntry2, Index); F(kvm_cpuid_entry2, flags, CPUIDEntry2, Flags); F(kvm_cpuid_entry2, eax, CPUIDEntry2, EAX);
	F(kvm_cpuid_entry2, ebx, CPUIDEntry2, EBX); F(kvm_cpuid_entry2, ecx, CPUIDEntry2, ECX); F(kvm_cpuid_entry2, edx, CPUIDEntry2, EDX); F(kvm_cpuid_entry2, padding, CPUIDEntry2, Padding);
	S(kvm_lapic_state, LAPICState);
	S(kvm_vcpu_events, VCPUEvents); F(kvm_vcpu_events, exception, VCPUEvents, Exception); F(kvm_vcpu_events, exception.error_code, VCPUEvents, Exception.ErrorCode);
	F(kvm_vcpu_events, interrupt, VCPUEvents, Interrupt); F(kvm_vcpu_events, nmi, VCPUEvents, NMI); F(kvm_vcpu_events, sipi_vector, VCPUEvents, SIPIVector);
	F(kvm_vcpu_events, flags, VCPUEvents, Flags); F(kvm_vcpu_events, smi, VCPUEvents, SMI); F(kvm_vcpu_events, triple_fault, VCPUEvents, TripleFault);
	F(kvm_vcpu_events, reserved, VCPUEvents, Reserved); F(kvm_vcpu_events, exception_has_payload, VCPUEvents, ExceptionHasPayload); F(kvm_vcpu_events, exception_payload, VCPUEvents, ExceptionPayload);
	S(kvm_xsave, XSave);
	S(kvm_xcr, XCR); F(kvm_xcr, value, XCR, Value);
	S(kvm_xcrs, XCRS); F(kvm_xcrs, flags, XCRS, Flags); F(kvm_xcrs, xcrs, XCRS, XCRs); F(kvm_xcrs, padding, XCRS, Padding);
	S(kvm_translation, Translation); F(kvm_translation, physical_address, Translation, PhysicalAddress); F(kvm_translation, valid, Translation, Valid);
	F(kvm_translation, writeable, Translation, Writeable); F(kvm_translation, usermode, Translation, Usermode); F(kvm_translation, pad, Translation, Pad);
	S(kvm_userspace_memory_region, UserspaceMemoryRegion); F(kvm_userspace_memory_region, flags, UserspaceMemoryRegion, Flags);
	F(kvm_userspace_memory_region, guest_phys_addr, UserspaceMemoryRegion, GuestPhysAddr); F(kvm_userspace_memory_region, memory_size, UserspaceMemoryRegion, MemorySize);
	F(kvm_userspace_memory_region, userspace_addr, UserspaceMemoryRegion, UserspaceAddr);
	S(kvm_ioeventfd, IOEventFD); F(kvm_ioeventfd, addr, IOEventFD, Addr); F(kvm_ioeventfd, len, IOEventFD, Len); F(kvm_ioeventfd, fd, IOEventFD, FD);
	F(kvm_ioeventfd, flags, IOEventFD, Flags); F(kvm_ioeventfd, pad, IOEventFD, Pad);
	S(kvm_irqfd, IRQFD); F(kvm_irqfd, gsi, IRQFD, GSI); F(kvm_irqfd, flags, IRQFD, Flags); F(kvm_irqfd, resamplefd, IRQFD, ResampleFD); F(kvm_irqfd, pad, IRQFD, Pad);
	S(kvm_irq_routing_entry, IRQRoutingEntry); F(kvm_irq_routing_entry, type, IRQRoutingEntry, Type); F(kvm_irq_routing_entry, flags, IRQRoutingEntry, Flags);
	F(kvm_irq_routing_entry, pad, IRQRoutingEntry, Pad); F(kvm_irq_routing_entry, u, IRQRoutingEntry, U);
	printf("\t{\"kvm_irq_routing_entry.u.irqchip.pin\", unsafe.Offsetof(IRQRoutingEntry{}.U) + 4, %zu},\n", offsetof(struct kvm_irq_routing_entry, u.irqchip.pin));
	S(kvm_msi, MSI); F(kvm_msi, address_hi, MSI, AddressHi); F(kvm_msi, data, MSI, Data); F(kvm_msi, flags, MSI, Flags); F(kvm_msi, devid, MSI, DevID); F(kvm_msi, pad, MSI, Pad);
	S(kvm_clock_data, ClockData); F(kvm_clock_data, flags, ClockData, Flags); F(kvm_clock_data, realtime, ClockData, Realtime); F(kvm_clock_data, host_tsc, ClockData, HostTSC); F(kvm_clock_data, pad, ClockData, Pad);
	S(kvm_pit_config, PITConfig);
	S(kvm_irq_level, irqLevel); F(kvm_irq_level, level, irqLevel, Level);
	S(kvm_mp_state, mpState);
	S(kvm_run, Run); F(kvm_run, immediate_exit, Run, ImmediateExit); F(kvm_run, exit_reason, Run, ExitReason);
	F(kvm_run, ready_for_interrupt_injection, Run, ReadyForInterruptInjection); F(kvm_run, if_flag, Run, IfFlag); F(kvm_run, flags, Run, Flags);
	F(kvm_run, cr8, Run, CR8); F(kvm_run, apic_base, Run, APICBase); F(kvm_run, hw, Run, Exit); F(kvm_run, kvm_valid_regs, Run, ValidRegs);
	F(kvm_run, kvm_dirty_regs, Run, DirtyRegs); F(kvm_run, s, Run, SyncRegs);
	printf("// kvm_run exit union members, absolute offsets\n");
	R(io.direction, "0"); R(io.size, "1"); R(io.port, "2"); R(io.count, "4"); R(io.data_offset, "unionIODataOffset");
	R(mmio.phys_addr, "0"); R(mmio.data, "unionMMIOData"); R(mmio.len, "unionMMIOLen"); R(mmio.is_write, "unionMMIOIsWrite");
	R(internal.suberror, "0"); R(internal.ndata, "unionInternalNData"); R(internal.data, "unionInternalData");
	R(fail_entry.hardware_entry_failure_reason, "0"); R(fail_entry.cpu, "unionFailEntryCPU");
	R(system_event.type, "0"); R(system_event.flags, "unionSystemEventArg"); R(ex.exception, "0"); R(ex.error_code, "4");
	printf("// flexible-array structs: the header size each ioctl number encodes, and where\n");
	printf("// encodeCPUID and msrBuffer put the first entry's fields\n");
	H(kvm_cpuid2, kvmGetSupportedCPUID); H(kvm_cpuid2, kvmGetCPUID2); H(kvm_cpuid2, kvmSetCPUID2);
	H(kvm_msrs, kvmGetMSRs); H(kvm_msrs, kvmSetMSRs); H(kvm_msr_list, kvmGetMSRIndexList); H(kvm_irq_routing, kvmSetGSIRouting);
	CE(function, Function); CE(index, Index); CE(flags, Flags); CE(eax, EAX); CE(ebx, EBX); CE(ecx, ECX); CE(edx, EDX);
	printf("\t{\"kvm_cpuid2.entries[1].function\", encodedCPUIDOffset(1, func(e *CPUIDEntry2) { e.Function = abiMarker }), %zu},\n",
	       offsetof(struct kvm_cpuid2, entries[1].function));
	ME(index, Index); ME(data, Data);
	printf("\t{\"kvm_msrs.entries[1].index\", encodedMSROffset(1, func(e *MSREntry) { e.Index = abiMarker }), %zu},\n",
	       offsetof(struct kvm_msrs, entries[1].index));
	printf("\t{\"cpuid entry words\", cpuidEntryWords * 4, %zu},\n", sizeof(struct kvm_cpuid_entry2));
	printf("\t{\"routing entry words\", irqRoutingEntryWords * 4, %zu},\n", sizeof(struct kvm_irq_routing_entry));
	printf("// ioctl numbers\n");
	I(KVM_GET_API_VERSION, kvmGetAPIVersion); I(KVM_CREATE_VM, kvmCreateVM); I(KVM_GET_MSR_INDEX_LIST, kvmGetMSRIndexList);
	I(KVM_CHECK_EXTENSION, kvmCheckExtension); I(KVM_GET_VCPU_MMAP_SIZE, kvmGetVCPUMmapSize); I(KVM_GET_SUPPORTED_CPUID, kvmGetSupportedCPUID);
	I(KVM_CREATE_VCPU, kvmCreateVCPU); I(KVM_SET_USER_MEMORY_REGION, kvmSetUserMemoryRegion); I(KVM_SET_TSS_ADDR, kvmSetTSSAddr);
	I(KVM_SET_IDENTITY_MAP_ADDR, kvmSetIdentityMapAddr); I(KVM_CREATE_IRQCHIP, kvmCreateIRQChip); I(KVM_IRQ_LINE, kvmIRQLine);
	I(KVM_SET_GSI_ROUTING, kvmSetGSIRouting); I(KVM_IRQFD, kvmIRQFD); I(KVM_CREATE_PIT2, kvmCreatePIT2); I(KVM_IOEVENTFD, kvmIOEventFD);
	I(KVM_SET_CLOCK, kvmSetClock); I(KVM_GET_CLOCK, kvmGetClock); I(KVM_SIGNAL_MSI, kvmSignalMSI); I(KVM_RUN, kvmRun);
	I(KVM_GET_REGS, kvmGetRegs); I(KVM_SET_REGS, kvmSetRegs); I(KVM_GET_SREGS, kvmGetSregs); I(KVM_SET_SREGS, kvmSetSregs);
	I(KVM_TRANSLATE, kvmTranslate); I(KVM_GET_MSRS, kvmGetMSRs); I(KVM_SET_MSRS, kvmSetMSRs); I(KVM_GET_FPU, kvmGetFPU); I(KVM_SET_FPU, kvmSetFPU);
	I(KVM_GET_LAPIC, kvmGetLAPIC); I(KVM_SET_LAPIC, kvmSetLAPIC); I(KVM_SET_CPUID2, kvmSetCPUID2); I(KVM_GET_CPUID2, kvmGetCPUID2);
	I(KVM_GET_MP_STATE, kvmGetMPState); I(KVM_SET_MP_STATE, kvmSetMPState); I(KVM_GET_VCPU_EVENTS, kvmGetVCPUEvents); I(KVM_SET_VCPU_EVENTS, kvmSetVCPUEvents);
	I(KVM_GET_XSAVE, kvmGetXSave); I(KVM_SET_XSAVE, kvmSetXSave); I(KVM_GET_XCRS, kvmGetXCRS); I(KVM_SET_XCRS, kvmSetXCRS);
	return 0;
}
