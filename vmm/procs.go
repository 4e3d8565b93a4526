package vmm

import (
	"runtime"
	"sync"
)

// A vCPU's goroutine keeps its P while it is inside KVM_RUN, even while the
// guest halts (kvm.VCPU.Run is a raw system call while the guest keeps
// exiting; see kvm/ioctl_unsafe.go for why). The rest of the process
// (devices, signals, the console) must still find a P, so while VMs run
// GOMAXPROCS is kept above the number of their vCPUs. It is raised only
// when it has to be: changing it stops the world, which cost 0.5-1 ms of
// boot time on a loaded 2-core host, and one vCPU on such a host needs no
// change at all. Several VMs in one process (tests) add up.
var procs struct {
	mu    sync.Mutex
	base  int // GOMAXPROCS before the first reservation
	vcpus int // vCPUs of the VMs running now
}

// reserveProcs makes GOMAXPROCS at least n more than the vCPUs already
// reserved plus one, until the returned function is called.
func reserveProcs(n int) (release func()) {
	procs.mu.Lock()
	if procs.vcpus == 0 {
		procs.base = runtime.GOMAXPROCS(0)
	}
	procs.vcpus += n
	setProcs()
	procs.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			procs.mu.Lock()
			procs.vcpus -= n
			setProcs()
			procs.mu.Unlock()
		})
	}
}

// setProcs sets GOMAXPROCS to max(base, vcpus+1) if it is not that already.
// Preconditions: procs.mu is held.
func setProcs() {
	want := max(procs.base, procs.vcpus+1)
	if runtime.GOMAXPROCS(0) != want {
		runtime.GOMAXPROCS(want)
	}
}
