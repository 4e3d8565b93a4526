package vmm

import (
	"sync/atomic"

	"vmm/kvm"
)

// exitKind classifies a VM exit for the metrics (docs/api.md).
type exitKind int

const (
	exitIOIn exitKind = iota
	exitIOOut
	exitMMIORead
	exitMMIOWrite
	exitHLT
	exitShutdown
	exitSystemEvent
	exitInternalError
	exitFailEntry
	exitOther
	numExitKinds
)

// exitKindNames are the metric names, by exitKind.
var exitKindNames = [numExitKinds]string{
	"exit_io_in", "exit_io_out", "exit_mmio_read", "exit_mmio_write", "exit_hlt", "exit_shutdown",
	"exit_system_event", "exit_internal_error", "exit_fail_entry", "exit_other",
}

// vcpuExits counts one vCPU's exits by kind. Only that vCPU's thread adds
// (an uncontended atomic: no lock and no allocation on the exit path);
// anyone may read.
type vcpuExits [numExitKinds]atomic.Uint64

// count classifies the exit KVM_RUN just reported in run.
func (e *vcpuExits) count(run *kvm.Run) {
	k := exitOther
	switch run.ExitReason {
	case kvm.ExitIO:
		k = exitIOIn
		if dir, _, _, _, _ := run.IO(); dir == kvm.IODirectionOut {
			k = exitIOOut
		}
	case kvm.ExitMMIO:
		k = exitMMIORead
		if _, _, _, write := run.MMIO(); write {
			k = exitMMIOWrite
		}
	case kvm.ExitHLT:
		k = exitHLT
	case kvm.ExitShutdown:
		k = exitShutdown
	case kvm.ExitSystemEvent:
		k = exitSystemEvent
	case kvm.ExitInternalError:
		k = exitInternalError
	case kvm.ExitFailEntry:
		k = exitFailEntry
	}
	e[k].Add(1)
}

// exitCounts sums every vCPU's counters by metric name.
func (vm *VM) exitCounts() map[string]uint64 {
	out := make(map[string]uint64, numExitKinds)
	for k, name := range exitKindNames {
		var n uint64
		for i := range vm.exits {
			n += vm.exits[i][k].Load()
		}
		out[name] = n
	}
	return out
}
