//go:build linux

package kvm

import "fmt"

// Cap is a KVM capability number for KVM_CHECK_EXTENSION (KVM_CAP_*).
type Cap int

// Capabilities a VMM on x86 cares about. Values are from include/uapi/linux/kvm.h.
const (
	CapIRQChip                Cap = 0
	CapHLT                    Cap = 1
	CapUserMemory             Cap = 3
	CapSetTSSAddr             Cap = 4
	CapExtCPUID               Cap = 7
	CapClocksource            Cap = 8
	CapNrVCPUs                Cap = 9
	CapNrMemSlots             Cap = 10
	CapPIT                    Cap = 11
	CapNopIODelay             Cap = 12
	CapMPState                Cap = 14
	CapCoalescedMMIO          Cap = 15
	CapSyncMMU                Cap = 16
	CapUserNMI                Cap = 22
	CapSetGuestDebug          Cap = 23
	CapReinjectControl        Cap = 24
	CapIRQRouting             Cap = 25
	CapIRQInjectStatus        Cap = 26
	CapMCE                    Cap = 31
	CapIRQFD                  Cap = 32
	CapPIT2                   Cap = 33
	CapSetBootCPUID           Cap = 34
	CapPITState2              Cap = 35
	CapIOEventFD              Cap = 36
	CapSetIdentityMapAddr     Cap = 37
	CapAdjustClock            Cap = 39
	CapInternalErrorData      Cap = 40
	CapVCPUEvents             Cap = 41
	CapIntrShadow             Cap = 49
	CapDebugRegs              Cap = 50
	CapEnableCap              Cap = 54
	CapXSave                  Cap = 55
	CapXCRS                   Cap = 56
	CapAsyncPF                Cap = 59
	CapTSCControl             Cap = 60
	CapGetTSCKHz              Cap = 61
	CapMaxVCPUs               Cap = 66
	CapOneReg                 Cap = 70
	CapTSCDeadlineTimer       Cap = 72
	CapSyncRegs               Cap = 74
	CapKVMClockCtrl           Cap = 76
	CapSignalMSI              Cap = 77
	CapReadonlyMem            Cap = 81
	CapIRQFDResample          Cap = 82
	CapExtEmulCPUID           Cap = 95
	CapIOAPICPolarityIgnored  Cap = 97
	CapEnableCapVM            Cap = 98
	CapIOEventFDNoLength      Cap = 100
	CapCheckExtensionVM       Cap = 105
	CapDisableQuirks          Cap = 116
	CapX86SMM                 Cap = 117
	CapMultiAddressSpace      Cap = 118
	CapSplitIRQChip           Cap = 121
	CapIOEventFDAnyLength     Cap = 122
	CapMaxVCPUID              Cap = 128
	CapX2APICAPI              Cap = 129
	CapMSIDevID               Cap = 131
	CapImmediateExit          Cap = 136
	CapX86DisableExits        Cap = 143
	CapGetMSRFeatures         Cap = 153
	CapNestedState            Cap = 157
	CapCoalescedPIO           Cap = 162
	CapExceptionPayload       Cap = 164
	CapManualDirtyLogProtect2 Cap = 168
	CapHaltPoll               Cap = 182
	CapX86UserSpaceMSR        Cap = 188
	CapX86MSRFilter           Cap = 189
	CapDirtyLogRing           Cap = 192
	CapX86BusLockExit         Cap = 193
	CapSregs2                 Cap = 200
	CapExitHypercall          Cap = 201
	CapBinaryStatsFD          Cap = 203
	CapExitOnEmulationFailure Cap = 204
	CapVMGPABits              Cap = 207
	CapXSave2                 Cap = 208
	CapSysAttributes          Cap = 209
	CapPMUCapability          Cap = 212
	CapDisableQuirks2         Cap = 213
	CapVMTSCControl           Cap = 214
	CapSystemEventData        Cap = 215
	CapX86TripleFaultEvent    Cap = 218
	CapX86NotifyVMExit        Cap = 219
)

var capNames = map[Cap]string{
	CapIRQChip:                "IRQCHIP",
	CapHLT:                    "HLT",
	CapUserMemory:             "USER_MEMORY",
	CapSetTSSAddr:             "SET_TSS_ADDR",
	CapExtCPUID:               "EXT_CPUID",
	CapClocksource:            "CLOCKSOURCE",
	CapNrVCPUs:                "NR_VCPUS",
	CapNrMemSlots:             "NR_MEMSLOTS",
	CapPIT:                    "PIT",
	CapNopIODelay:             "NOP_IO_DELAY",
	CapMPState:                "MP_STATE",
	CapCoalescedMMIO:          "COALESCED_MMIO",
	CapSyncMMU:                "SYNC_MMU",
	CapUserNMI:                "USER_NMI",
	CapSetGuestDebug:          "SET_GUEST_DEBUG",
	CapReinjectControl:        "REINJECT_CONTROL",
	CapIRQRouting:             "IRQ_ROUTING",
	CapIRQInjectStatus:        "IRQ_INJECT_STATUS",
	CapMCE:                    "MCE",
	CapIRQFD:                  "IRQFD",
	CapPIT2:                   "PIT2",
	CapSetBootCPUID:           "SET_BOOT_CPU_ID",
	CapPITState2:              "PIT_STATE2",
	CapIOEventFD:              "IOEVENTFD",
	CapSetIdentityMapAddr:     "SET_IDENTITY_MAP_ADDR",
	CapAdjustClock:            "ADJUST_CLOCK",
	CapInternalErrorData:      "INTERNAL_ERROR_DATA",
	CapVCPUEvents:             "VCPU_EVENTS",
	CapIntrShadow:             "INTR_SHADOW",
	CapDebugRegs:              "DEBUGREGS",
	CapEnableCap:              "ENABLE_CAP",
	CapXSave:                  "XSAVE",
	CapXCRS:                   "XCRS",
	CapAsyncPF:                "ASYNC_PF",
	CapTSCControl:             "TSC_CONTROL",
	CapGetTSCKHz:              "GET_TSC_KHZ",
	CapMaxVCPUs:               "MAX_VCPUS",
	CapOneReg:                 "ONE_REG",
	CapTSCDeadlineTimer:       "TSC_DEADLINE_TIMER",
	CapSyncRegs:               "SYNC_REGS",
	CapKVMClockCtrl:           "KVMCLOCK_CTRL",
	CapSignalMSI:              "SIGNAL_MSI",
	CapReadonlyMem:            "READONLY_MEM",
	CapIRQFDResample:          "IRQFD_RESAMPLE",
	CapExtEmulCPUID:           "EXT_EMUL_CPUID",
	CapIOAPICPolarityIgnored:  "IOAPIC_POLARITY_IGNORED",
	CapEnableCapVM:            "ENABLE_CAP_VM",
	CapIOEventFDNoLength:      "IOEVENTFD_NO_LENGTH",
	CapCheckExtensionVM:       "CHECK_EXTENSION_VM",
	CapDisableQuirks:          "DISABLE_QUIRKS",
	CapX86SMM:                 "X86_SMM",
	CapMultiAddressSpace:      "MULTI_ADDRESS_SPACE",
	CapSplitIRQChip:           "SPLIT_IRQCHIP",
	CapIOEventFDAnyLength:     "IOEVENTFD_ANY_LENGTH",
	CapMaxVCPUID:              "MAX_VCPU_ID",
	CapX2APICAPI:              "X2APIC_API",
	CapMSIDevID:               "MSI_DEVID",
	CapImmediateExit:          "IMMEDIATE_EXIT",
	CapX86DisableExits:        "X86_DISABLE_EXITS",
	CapGetMSRFeatures:         "GET_MSR_FEATURES",
	CapNestedState:            "NESTED_STATE",
	CapCoalescedPIO:           "COALESCED_PIO",
	CapExceptionPayload:       "EXCEPTION_PAYLOAD",
	CapManualDirtyLogProtect2: "MANUAL_DIRTY_LOG_PROTECT2",
	CapHaltPoll:               "HALT_POLL",
	CapX86UserSpaceMSR:        "X86_USER_SPACE_MSR",
	CapX86MSRFilter:           "X86_MSR_FILTER",
	CapDirtyLogRing:           "DIRTY_LOG_RING",
	CapX86BusLockExit:         "X86_BUS_LOCK_EXIT",
	CapSregs2:                 "SREGS2",
	CapExitHypercall:          "EXIT_HYPERCALL",
	CapBinaryStatsFD:          "BINARY_STATS_FD",
	CapExitOnEmulationFailure: "EXIT_ON_EMULATION_FAILURE",
	CapVMGPABits:              "VM_GPA_BITS",
	CapXSave2:                 "XSAVE2",
	CapSysAttributes:          "SYS_ATTRIBUTES",
	CapPMUCapability:          "PMU_CAPABILITY",
	CapDisableQuirks2:         "DISABLE_QUIRKS2",
	CapVMTSCControl:           "VM_TSC_CONTROL",
	CapSystemEventData:        "SYSTEM_EVENT_DATA",
	CapX86TripleFaultEvent:    "X86_TRIPLE_FAULT_EVENT",
	CapX86NotifyVMExit:        "X86_NOTIFY_VMEXIT",
}

// String names the capability as the kernel header does, without the
// KVM_CAP_ prefix (e.g. "IRQCHIP"), so check output can be grepped against
// Documentation/virt/kvm/api.rst.
func (c Cap) String() string {
	if n, ok := capNames[c]; ok {
		return n
	}
	return fmt.Sprintf("CAP_%d", int(c))
}
