package vmm

import (
	"runtime"
	"testing"
)

func TestReserveProcs(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	a := reserveProcs(1)
	if got := runtime.GOMAXPROCS(0); got != 2 {
		t.Fatalf("GOMAXPROCS %d with 1 vCPU on 2 Ps, want 2 unchanged", got)
	}
	b := reserveProcs(3)
	if got := runtime.GOMAXPROCS(0); got != 5 {
		t.Fatalf("GOMAXPROCS %d with 1+3 vCPUs, want 5 (one P left over)", got)
	}
	b()
	b() // releasing twice must not release twice
	if got := runtime.GOMAXPROCS(0); got != 2 {
		t.Fatalf("GOMAXPROCS %d after releasing 3 of 4 vCPUs, want 2", got)
	}
	a()
	if got := runtime.GOMAXPROCS(0); got != 2 {
		t.Fatalf("GOMAXPROCS %d after releasing all, want the 2 it was", got)
	}
}
