package vmm

import (
	"runtime"
	"sync"
)

// A vCPU's goroutine keeps its P while it is inside KVM_RUN, even while the
// guest halts (kvm.VCPU.Run is a raw system call; see kvm/ioctl_unsafe.go
// for why). A running VM therefore adds one P per vCPU to GOMAXPROCS, so
// the rest of the process (devices, signals, the console) keeps as many Ps
// as it had. Several VMs in one process (tests) add up.
var procs struct {
	mu    sync.Mutex
	base  int // GOMAXPROCS before the first reservation
	extra int // Ps reserved by running VMs
}

// reserveProcs raises GOMAXPROCS by n until the returned function is called.
func reserveProcs(n int) (release func()) {
	procs.mu.Lock()
	if procs.extra == 0 {
		procs.base = runtime.GOMAXPROCS(0)
	}
	procs.extra += n
	runtime.GOMAXPROCS(procs.base + procs.extra)
	procs.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			procs.mu.Lock()
			procs.extra -= n
			runtime.GOMAXPROCS(procs.base + procs.extra)
			procs.mu.Unlock()
		})
	}
}
