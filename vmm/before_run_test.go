package vmm

import (
	"errors"
	"sync/atomic"
	"testing"

	"vmm/internal/syncbuf"
)

// runTinyWithHook boots the tiny kernel's default cases with hook as
// BeforeRun and returns how the run ended and what the guest printed.
func runTinyWithHook(t *testing.T, hook func() error) (Result, *VM, string) {
	t.Helper()
	out := &syncbuf.Buffer{}
	vm, err := New(Config{Kernel: tinyKernel(t), KernelName: "tiny.elf", MemSize: 64 << 20, CPUs: 2,
		TestExit: true, Console: out, BeforeRun: hook})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(vm.Close)
	res := vm.Run()
	return res, vm, out.String()
}

// The hook runs exactly once, with every vCPU created, and before any of
// them entered the guest (no first KVM_RUN, no guest output yet).
func TestBeforeRunRunsOnceBeforeTheGuest(t *testing.T) {
	var calls atomic.Int32
	var vm *VM
	var ranBefore, printedBefore bool
	hook := func() error {
		calls.Add(1)
		ranBefore = !vm.FirstRun().IsZero()
		vm.vcpusMu.Lock()
		n := len(vm.vcpus)
		vm.vcpusMu.Unlock()
		if n != 2 {
			t.Errorf("hook ran with %d vCPU threads, want 2", n)
		}
		return nil
	}
	out := &syncbuf.Buffer{}
	v, err := New(Config{Kernel: tinyKernel(t), KernelName: "tiny.elf", MemSize: 64 << 20, CPUs: 2,
		TestExit: true, Console: out, BeforeRun: func() error { printedBefore = out.String() != ""; return hook() }})
	if err != nil {
		t.Fatal(err)
	}
	vm = v
	defer vm.Close()
	res := vm.Run()
	if got := calls.Load(); got != 1 {
		t.Fatalf("BeforeRun ran %d times, want 1", got)
	}
	if ranBefore || printedBefore {
		t.Fatalf("the guest ran before the hook (first KVM_RUN seen: %v, output seen: %v)", ranBefore, printedBefore)
	}
	if res.Status != 0 || res.Err != nil {
		t.Fatalf("run after a nil hook ended %+v:\n%s", res, out.String())
	}
	if vm.FirstRun().IsZero() {
		t.Fatal("the guest never ran after the hook")
	}
}

// An error from the hook ends the run with status 1 and that error, and
// the guest never runs.
func TestBeforeRunErrorStopsTheVM(t *testing.T) {
	errHook := errors.New("sandbox refused")
	res, vm, out := runTinyWithHook(t, func() error { return errHook })
	if res.Status != 1 || !errors.Is(res.Err, errHook) {
		t.Fatalf("run ended %+v, want status 1 with the hook's error", res)
	}
	if !vm.FirstRun().IsZero() || out != "" {
		t.Fatalf("the guest ran although the hook failed (output %q)", out)
	}
}
