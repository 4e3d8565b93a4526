package vmm

import (
	"runtime"
	"testing"
)

func TestReserveProcs(t *testing.T) {
	base := runtime.GOMAXPROCS(0)
	a := reserveProcs(2)
	if got := runtime.GOMAXPROCS(0); got != base+2 {
		t.Fatalf("GOMAXPROCS %d with 2 reserved, want %d", got, base+2)
	}
	b := reserveProcs(3)
	if got := runtime.GOMAXPROCS(0); got != base+5 {
		t.Fatalf("GOMAXPROCS %d with 2+3 reserved, want %d", got, base+5)
	}
	a()
	a() // releasing twice must not release twice
	if got := runtime.GOMAXPROCS(0); got != base+3 {
		t.Fatalf("GOMAXPROCS %d after releasing 2 of 5, want %d", got, base+3)
	}
	b()
	if got := runtime.GOMAXPROCS(0); got != base {
		t.Fatalf("GOMAXPROCS %d after releasing all, want %d", got, base)
	}
}
