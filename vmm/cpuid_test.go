package vmm

import (
	"fmt"
	"testing"

	"vmm/kvm"
)

// cpuidKey names one CPUID leaf and subleaf.
type cpuidKey struct{ fn, idx uint32 }

func (k cpuidKey) String() string { return fmt.Sprintf("%#x.%d", k.fn, k.idx) }

// leaf builds a CPUID entry; regs are EAX, EBX, ECX, EDX.
func leaf(fn, idx, eax, ebx, ecx, edx uint32) kvm.CPUIDEntry2 {
	return kvm.CPUIDEntry2{Function: fn, Index: idx, EAX: eax, EBX: ebx, ECX: ecx, EDX: edx}
}

// supportedForTest is what KVM_GET_SUPPORTED_CPUID might return, with a
// distinct value in every register so a register the VMM drops, zeroes or
// copies from the wrong place shows.
var supportedForTest = []kvm.CPUIDEntry2{
	leaf(0x0, 0, 0x1f, 0x756e6547, 0x6c65746e, 0x49656e69),
	leaf(0x1, 0, 0x000806f8, 0xaa55c0de, 0x76fa3203, 0x078bfbff),
	leaf(0x4, 0, 0xfc004121, 0x02c0003f, 0x0000003f, 0x00000000), // L1d: a real cache level
	leaf(0x4, 4, 0x00000000, 0x11111111, 0x22222222, 0x33333333), // the terminating subleaf
	leaf(0x7, 0, 0x00000001, 0xf1bf2fbb, 0x1b415f6e, 0xfc1c4432),
	leaf(0xa, 0, 0x07300805, 0x000000ff, 0x00000003, 0x00008603),
	leaf(0xb, 0, 0x1, 0x2, 0x100, 0x9),
	leaf(0xb, 1, 0x4, 0x8, 0x201, 0x9),
	leaf(0xb, 2, 0x5, 0x6, 0x2, 0x9),
	leaf(0x1f, 0, 0x1, 0x2, 0x100, 0x9),
	leaf(0x1f, 1, 0x4, 0x8, 0x201, 0x9),
	leaf(0x40000000, 0, 0x40000001, 0x4b4d564b, 0x564b4d56, 0x4d),
	leaf(0x40000001, 0, 0x01007afb, 0x0, 0x0, 0x00000001),
	leaf(0x40000010, 0, 0x12345, 0x6789, 0, 0), // KVM's own timing leaf: replaced
	leaf(0x80000001, 0, 0x0, 0x0, 0x00000121, 0x2c100800),
}

// TestVCPUCPUID checks every leaf vcpuCPUID returns, register by register,
// and that no leaf is dropped or duplicated: a leaf missing from the output
// is as wrong as a leaf with a wrong value.
func TestVCPUCPUID(t *testing.T) {
	sig := [3]uint32{kvmSignatureEBX, kvmSignatureECX, kvmSignatureEDX}
	unchanged := func(fn, idx uint32) kvm.CPUIDEntry2 {
		for _, e := range supportedForTest {
			if e.Function == fn && e.Index == idx {
				return e
			}
		}
		panic("no such leaf in supportedForTest")
	}
	cases := []struct {
		name         string
		in           []kvm.CPUIDEntry2
		apicID, ncpu int
		tscKHz       uint32
		noHypercalls bool
		want         []kvm.CPUIDEntry2
	}{
		{
			name: "vCPU 3 of 4, hypercalls hidden", in: supportedForTest, apicID: 3, ncpu: 4, tscKHz: 2000000, noHypercalls: true,
			want: []kvm.CPUIDEntry2{
				unchanged(0x0, 0),
				// EBX: CLFLUSH size and brand kept, 4 logical CPUs (23:16), APIC id 3 (31:24);
				// ECX gains the hypervisor bit, EDX the HTT bit (more than one CPU).
				leaf(0x1, 0, 0x000806f8, 0x0304c0de, 0xf6fa3203, 0x178bfbff),
				// EAX 31:26: cores per package - 1 = 3; 13:0 kept.
				leaf(0x4, 0, 0x0c000121, 0x02c0003f, 0x0000003f, 0x00000000),
				unchanged(0x4, 4),
				unchanged(0x7, 0),
				leaf(0xa, 0, 0, 0, 0, 0), // no vPMU
				// SMT level: 1 thread, shift 0; core level: 4 CPUs, shift 2; x2APIC id 3 everywhere.
				leaf(0xb, 0, 0, 1, 0x100, 3),
				leaf(0xb, 1, 2, 4, 0x201, 3),
				leaf(0xb, 2, 0, 0, 2, 3),
				leaf(0x1f, 0, 0, 1, 0x100, 3),
				leaf(0x1f, 1, 2, 4, 0x201, 3),
				leaf(0x40000000, 0, 0x40000010, sig[0], sig[1], sig[2]),
				// PV_UNHALT (7), PV_SEND_IPI (11), PV_SCHED_YIELD (13) cleared; the rest kept.
				leaf(0x40000001, 0, 0x0100527b, 0, 0, 1),
				unchanged(0x80000001, 0),
				leaf(0x40000010, 0, 2000000, 1000000, 0, 0), // TSC and LAPIC bus kHz
			},
		},
		{
			name: "one vCPU, hypercalls kept, no TSC frequency", in: supportedForTest, apicID: 0, ncpu: 1, tscKHz: 0,
			want: []kvm.CPUIDEntry2{
				unchanged(0x0, 0),
				leaf(0x1, 0, 0x000806f8, 0x0001c0de, 0xf6fa3203, 0x078bfbff), // 1 CPU, APIC id 0, no HTT
				leaf(0x4, 0, 0x00000121, 0x02c0003f, 0x0000003f, 0x00000000),
				unchanged(0x4, 4),
				unchanged(0x7, 0),
				leaf(0xa, 0, 0, 0, 0, 0),
				leaf(0xb, 0, 0, 1, 0x100, 0),
				leaf(0xb, 1, 0, 1, 0x201, 0),
				leaf(0xb, 2, 0, 0, 2, 0),
				leaf(0x1f, 0, 0, 1, 0x100, 0),
				leaf(0x1f, 1, 0, 1, 0x201, 0),
				leaf(0x40000000, 0, 0x40000010, sig[0], sig[1], sig[2]),
				unchanged(0x40000001, 0),
				unchanged(0x80000001, 0),
			},
		},
		{
			name: "KVM without the hypervisor leaves", in: []kvm.CPUIDEntry2{leaf(0x1, 0, 0x806f8, 0x00ff0800, 0, 0)},
			apicID: 1, ncpu: 2, tscKHz: 3000000,
			want: []kvm.CPUIDEntry2{
				leaf(0x1, 0, 0x806f8, 0x01020800, 1<<31, 1<<28),
				leaf(0x40000000, 0, 0x40000010, sig[0], sig[1], sig[2]),
				leaf(0x40000010, 0, 3000000, 1000000, 0, 0),
			},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := append([]kvm.CPUIDEntry2(nil), c.in...)
			got := map[cpuidKey]kvm.CPUIDEntry2{}
			for _, e := range vcpuCPUID(in, c.apicID, c.ncpu, c.tscKHz, c.noHypercalls) {
				k := cpuidKey{e.Function, e.Index}
				if _, dup := got[k]; dup {
					t.Errorf("leaf %v appears twice", k)
				}
				got[k] = e
			}
			for _, w := range c.want {
				k := cpuidKey{w.Function, w.Index}
				g, ok := got[k]
				switch {
				case !ok:
					t.Errorf("leaf %v is missing", k)
				case g != w:
					t.Errorf("leaf %v = EAX %#x EBX %#x ECX %#x EDX %#x flags %#x, want EAX %#x EBX %#x ECX %#x EDX %#x flags %#x",
						k, g.EAX, g.EBX, g.ECX, g.EDX, g.Flags, w.EAX, w.EBX, w.ECX, w.EDX, w.Flags)
				}
				delete(got, k)
			}
			for k := range got {
				t.Errorf("unexpected leaf %v", k)
			}
			for i := range in {
				if in[i] != c.in[i] {
					t.Errorf("vcpuCPUID modified its input at %d: %+v", i, in[i])
				}
			}
		})
	}
}
