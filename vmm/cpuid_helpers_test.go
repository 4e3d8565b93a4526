package vmm

import "vmm/kvm"

type kvmCPUIDForTest struct{ fn, idx uint32 }

func toEntries(in []kvmCPUIDForTest) []kvm.CPUIDEntry2 {
	out := make([]kvm.CPUIDEntry2, len(in))
	for i, e := range in {
		out[i] = kvm.CPUIDEntry2{Function: e.fn, Index: e.idx, EAX: 0xffffffff}
	}
	return out
}
