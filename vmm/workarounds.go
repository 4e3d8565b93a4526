package vmm

import (
	"fmt"
	"slices"
	"strings"

	"github.com/sirupsen/logrus"

	"vmm/vmm/hostcheck"
)

// Workaround modes for Config.Workarounds.
const (
	WorkaroundsAuto = "auto" // apply when the backend needs them and the guest is Linux
	WorkaroundsOn   = "on"   // always apply (for Linux guests)
	WorkaroundsOff  = "off"  // never
)

// pvmKernelParams keep Linux away from instructions kvm_pvm cannot emulate
// and the VMM does not repair: xsave/xrstor (noxsave), SMAP's clac/stac,
// SMEP, cmpxchg16b (cx16) and popcnt. The guest sees the host's CPUID
// feature bits whatever KVM_SET_CPUID2 says on this backend, so the kernel
// must be told on its command line. Emulating them instead would need
// operand decoding, cross-vCPU atomicity for cmpxchg16b and the whole XSAVE
// area for xrstor: more code on the exit path for less correctness.
const pvmKernelParams = "noxsave clearcpuid=smap,smep,cx16,popcnt"

// backendWorkarounds returns the command line to boot with: cmdline plus
// pvmKernelParams when mode and the host call for them.
func backendWorkarounds(mode string, k *Kernel, cmdline string, backends []string) (string, error) {
	switch mode {
	case WorkaroundsOff:
		return cmdline, nil
	case "", WorkaroundsAuto:
		if !slices.Contains(backends, "kvm_pvm") {
			return cmdline, nil
		}
	case WorkaroundsOn:
	default:
		return "", fmt.Errorf("--workarounds %q: use auto, on or off", mode)
	}
	if !k.Linux {
		return cmdline, nil
	}
	logrus.WithField("params", pvmKernelParams).Info("kvm_pvm: adding kernel parameters for instructions it cannot emulate (--workarounds=off to disable)")
	return strings.TrimSpace(cmdline + " " + pvmKernelParams), nil
}

// hostBackends is a variable so tests can pretend to be another host.
var hostBackends = hostcheck.Backends

// hideHypercalls reports whether the guest's CPUID should hide the KVM
// paravirtual features that use VMCALL (kvmHypercallFeatures). Unlike the
// kernel parameters this applies to every guest: it only removes features.
func hideHypercalls(mode string, backends []string) bool {
	switch mode {
	case WorkaroundsOff:
		return false
	case WorkaroundsOn:
		return true
	}
	return slices.Contains(backends, "kvm_pvm")
}
