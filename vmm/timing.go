package vmm

import (
	"sync/atomic"
	"time"
)

// runTiming records when the VM first entered the guest and when it was
// asked to stop, for vmm run's --result-json and vmm check.
type runTiming struct {
	firstRun atomic.Int64 // UnixNano of the first KVM_RUN; 0 until then
	stopped  atomic.Int64 // UnixNano of the first Stop; 0 until then
}

// markFirstRun records the first KVM_RUN; later calls change nothing.
func (t *runTiming) markFirstRun() { t.firstRun.CompareAndSwap(0, time.Now().UnixNano()) }

// markStopped records the first Stop.
func (t *runTiming) markStopped() { t.stopped.CompareAndSwap(0, time.Now().UnixNano()) }

func unixNano(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n)
}

// FirstRun is when a vCPU first entered the guest (zero if none did).
func (vm *VM) FirstRun() time.Time { return unixNano(vm.timing.firstRun.Load()) }

// StoppedAt is when the VM was first asked to stop (zero if it was not).
func (vm *VM) StoppedAt() time.Time { return unixNano(vm.timing.stopped.Load()) }
