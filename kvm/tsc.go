//go:build linux

package kvm

// kvmGetTSCKHz is KVM_GET_TSC_KHZ, _IO(KVMIO, 0xa3).
var kvmGetTSCKHz = io(0xa3)

// TSCKHz returns the guest TSC frequency in kHz (KVM_GET_TSC_KHZ), which the
// VMM publishes to the guest in CPUID leaf 0x40000010.
func (v *VCPU) TSCKHz() (uint32, error) {
	r, e := ioctlVal(v.Fd(), kvmGetTSCKHz, 0)
	if e != 0 {
		return 0, wrap("KVM_GET_TSC_KHZ", e)
	}
	return uint32(r), nil
}
