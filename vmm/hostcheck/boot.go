//go:build linux

package hostcheck

import (
	"fmt"
	"time"
)

// BootFacts is what booting a real VM showed (vmm.BootCheck), for the
// checks that end `vmm check`.
type BootFacts struct {
	CPUs               int
	Passed             bool
	ToFirstRun, ToExit time.Duration
	MIPS               float64 // guest dec/jnz speed; 0 when unknown
	Err                error
}

// emulatedMIPS separates hosts that run guest code natively (thousands of
// millions of instructions per second for a dec/jnz loop) from those that
// run it through KVM's instruction emulator (a few million).
const emulatedMIPS = 100

// BootChecks turns a boot into two lines: "boot" (a VM really ran here)
// and "guest-speed" (whether it runs at native speed).
func BootChecks(f BootFacts) []Check {
	boot := Check{Name: "boot", Status: Pass}
	if !f.Passed {
		boot.Status = Fail
		boot.Detail = fmt.Sprintf("the built-in tiny kernel did not boot on %d vCPUs: %v", f.CPUs, f.Err)
		boot.Fix = "run `vmm run --cpus 2 --log-level debug` to see where it stops, and report it with that output"
		return []Check{boot}
	}
	boot.Detail = fmt.Sprintf("booted the built-in tiny kernel on %d vCPUs: first KVM_RUN after %s, done after %s",
		f.CPUs, ms(f.ToFirstRun), ms(f.ToExit))
	speed := Check{Name: "guest-speed", Status: Pass}
	switch {
	case f.MIPS == 0:
		speed.Status = Warn
		speed.Detail = "the guest could not time its loop (no TSC frequency from KVM)"
		speed.Fix = "none needed to run VMs; guest timing will be approximate"
	case f.MIPS < emulatedMIPS:
		speed.Status = Warn
		speed.Detail = fmt.Sprintf("a dec/jnz loop runs at %.1f million instructions/s: this KVM runs guest code through its instruction emulator, hundreds of times slower than native (a Linux guest takes about a minute to boot)", f.MIPS)
		speed.Fix = "run on a host with hardware virtualization (VT-x/AMD-V) exposed to it: bare metal, or a VM with nested virtualization enabled on the outer host; on kvm_pvm, guests built for PVM (CONFIG_PVM_GUEST) avoid the emulator"
	default:
		speed.Detail = fmt.Sprintf("a dec/jnz loop runs at %.0f million instructions/s: guest code runs natively", f.MIPS)
	}
	return []Check{boot, speed}
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond)) }
