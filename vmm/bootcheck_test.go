package vmm

import (
	"testing"
	"time"
)

// TestBootCheck: the check boots the tiny kernel on two vCPUs, reports it
// passed, with the first KVM_RUN before the end, and a loop speed.
func TestBootCheck(t *testing.T) {
	b := BootCheck("", tinyKernel(t), 60*time.Second)
	if !b.Passed || b.Err != nil || b.CPUs != 2 {
		t.Fatalf("boot check %+v", b)
	}
	if b.ToFirstRun <= 0 || b.ToExit < b.ToFirstRun {
		t.Errorf("first KVM_RUN after %v, exit after %v", b.ToFirstRun, b.ToExit)
	}
	if b.MIPS <= 0 {
		t.Errorf("no loop speed from %q", b.Output)
	}
	t.Logf("first KVM_RUN %v, exit %v, %.1f M instructions/s", b.ToFirstRun, b.ToExit, b.MIPS)
}

// TestBootCheckReportsAFailure: a kernel that is not one fails with the
// reason, not a pass.
func TestBootCheckReportsAFailure(t *testing.T) {
	b := BootCheck("", []byte("not a kernel"), time.Minute)
	if b.Passed || b.Err == nil {
		t.Fatalf("boot check of garbage: %+v", b)
	}
}
