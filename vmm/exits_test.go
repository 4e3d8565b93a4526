package vmm

import (
	"testing"

	"vmm/kvm"
)

// synthRun builds a kvm_run as KVM would leave it for one exit.
func synthRun(reason uint32, set func(u []byte)) *kvm.Run {
	r := &kvm.Run{ExitReason: reason}
	if set != nil {
		set(r.Exit[:])
	}
	return r
}

func TestExitCountsByKind(t *testing.T) {
	cases := []struct {
		run  *kvm.Run
		kind string
	}{
		{synthRun(kvm.ExitIO, func(u []byte) { u[0] = kvm.IODirectionOut }), "exit_io_out"},
		{synthRun(kvm.ExitIO, func(u []byte) { u[0] = kvm.IODirectionIn }), "exit_io_in"},
		{synthRun(kvm.ExitMMIO, func(u []byte) { u[20] = 1 }), "exit_mmio_write"},
		{synthRun(kvm.ExitMMIO, nil), "exit_mmio_read"},
		{synthRun(kvm.ExitHLT, nil), "exit_hlt"},
		{synthRun(kvm.ExitShutdown, nil), "exit_shutdown"},
		{synthRun(kvm.ExitSystemEvent, nil), "exit_system_event"},
		{synthRun(kvm.ExitInternalError, nil), "exit_internal_error"},
		{synthRun(kvm.ExitFailEntry, nil), "exit_fail_entry"},
		{synthRun(kvm.ExitNMI, nil), "exit_other"},
	}
	vm := &VM{exits: make([]vcpuExits, 2)}
	for i, c := range cases {
		vm.exits[i%2].count(c.run) // spread over both vCPUs: the sum is what is read
	}
	got := vm.exitCounts()
	for _, c := range cases {
		if got[c.kind] != 1 {
			t.Errorf("%s = %d, want 1 (all: %v)", c.kind, got[c.kind], got)
		}
	}
	if len(got) != len(exitKindNames) {
		t.Errorf("%d kinds reported, want %d", len(got), len(exitKindNames))
	}
	if n := testing.AllocsPerRun(100, func() { vm.exits[0].count(cases[0].run) }); n != 0 {
		t.Errorf("counting an exit allocates %v times", n)
	}
}

// TestExitRequestReason: a vCPU that asks the VM to stop says whether the
// guest reset or powered off.
func TestExitRequestReason(t *testing.T) {
	reset := synthRun(kvm.ExitSystemEvent, func(u []byte) { u[0] = kvm.SystemEventReset })
	shutdown := synthRun(kvm.ExitSystemEvent, func(u []byte) { u[0] = kvm.SystemEventShutdown })
	for run, want := range map[*kvm.Run]Reason{reset: ReasonReset, shutdown: ReasonPowerOff, synthRun(kvm.ExitHLT, nil): ReasonPowerOff} {
		if got := exitRequestReason(run); got != want {
			t.Errorf("exit %d: %q, want %q", run.ExitReason, got, want)
		}
	}
}

// BenchmarkExitCount is the cost the exit loop pays per exit for metrics.
func BenchmarkExitCount(b *testing.B) {
	var e vcpuExits
	run := synthRun(kvm.ExitIO, func(u []byte) { u[0] = kvm.IODirectionOut })
	b.ReportAllocs()
	for b.Loop() {
		e.count(run)
	}
}
