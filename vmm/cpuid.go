package vmm

import (
	"math/bits"

	"vmm/kvm"
)

// CPUID leaves the VMM rewrites per vCPU.
const (
	leafFeatures     = 0x1
	leafCacheParams  = 0x4
	leafPMU          = 0xa
	leafTopology     = 0xb
	leafTopologyV2   = 0x1f
	leafHypervisor   = 0x40000000
	leafKVMTiming    = 0x40000010
	leafKVMFeatures  = 0x40000001
	hypervisorBit    = 1 << 31    // leaf 1 ECX
	htBit            = 1 << 28    // leaf 1 EDX
	apicBusFreqKHz   = 1000000    // KVM's LAPIC timer runs at 1 GHz
	kvmSignatureEBX  = 0x4b4d564b // "KVMK"
	kvmSignatureECX  = 0x564b4d56 // "VMKV"
	kvmSignatureEDX  = 0x0000004d // "M\0\0\0"
	topoLevelSMT     = 1
	topoLevelCore    = 2
	cpuidFlagSigIdx  = kvm.CPUIDFlagSignificantIndex
	maxBasicTopology = 2
)

// kvmHypercallFeatures are the KVM_FEATURE_* bits (CPUID 0x40000001 EAX,
// Documentation/virt/kvm/x86/cpuid.rst) whose guest side issues VMCALL:
// PV_UNHALT (KVM_HC_KICK_CPU), PV_SEND_IPI (KVM_HC_SEND_IPI) and
// PV_SCHED_YIELD (KVM_HC_SCHED_YIELD). On kvm_pvm a VMCALL never completes
// (the vCPU spins in the host without an exit), so a Linux guest that sends
// a PV IPI hangs; see docs/kvm-pvm.md.
const kvmHypercallFeatures = 1<<7 | 1<<11 | 1<<13

// vcpuCPUID derives one vCPU's CPUID from what KVM supports: its APIC id
// and the topology of ncpu single-threaded cores in one package, the
// hypervisor bit and the KVM signature, and the TSC frequency leaf so a
// guest need not calibrate. PMU leaves are cleared: there is no vPMU.
//
// With noHypercalls the KVM paravirtual features that work through the
// VMCALL instruction are hidden (see kvmHypercallFeatures).
func vcpuCPUID(supported []kvm.CPUIDEntry2, apicID, ncpu int, tscKHz uint32, noHypercalls bool) []kvm.CPUIDEntry2 {
	coreShift := uint32(bits.Len(uint(ncpu - 1)))
	out := make([]kvm.CPUIDEntry2, 0, len(supported)+2)
	sawHypervisor := false
	for _, e := range supported {
		switch e.Function {
		case leafFeatures:
			e.EBX = e.EBX&0x0000ffff | uint32(ncpu)<<16 | uint32(apicID)<<24
			e.ECX |= hypervisorBit
			if ncpu > 1 {
				e.EDX |= htBit
			}
		case leafCacheParams:
			if e.EAX&0x1f != 0 { // a real cache level
				e.EAX = e.EAX&0x3fff | uint32(ncpu-1)<<26
			}
		case leafPMU:
			e.EAX, e.EBX, e.ECX, e.EDX = 0, 0, 0, 0
		case leafTopology, leafTopologyV2:
			e.EDX = uint32(apicID)
			switch e.Index {
			case 0:
				e.EAX, e.EBX, e.ECX = 0, 1, topoLevelSMT<<8
			case 1:
				e.EAX, e.EBX, e.ECX = coreShift, uint32(ncpu), topoLevelCore<<8|1
			default:
				e.EAX, e.EBX, e.ECX = 0, 0, e.Index
			}
		case leafHypervisor:
			sawHypervisor = true
			e.EAX = leafKVMTiming
			e.EBX, e.ECX, e.EDX = kvmSignatureEBX, kvmSignatureECX, kvmSignatureEDX
		case leafKVMTiming:
			continue // replaced below
		case leafKVMFeatures:
			if noHypercalls {
				e.EAX &^= kvmHypercallFeatures
			}
		}
		out = append(out, e)
	}
	if !sawHypervisor {
		out = append(out, kvm.CPUIDEntry2{Function: leafHypervisor, EAX: leafKVMTiming,
			EBX: kvmSignatureEBX, ECX: kvmSignatureECX, EDX: kvmSignatureEDX})
	}
	if tscKHz != 0 {
		out = append(out, kvm.CPUIDEntry2{Function: leafKVMTiming, EAX: tscKHz, EBX: apicBusFreqKHz})
	}
	return out
}
