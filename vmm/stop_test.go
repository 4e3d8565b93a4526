package vmm

import (
	"math/rand/v2"
	"os"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"vmm/internal/testutil"
)

// haltForever is 32-bit PVH entry code that halts in a loop: the vCPU sits
// in KVM_RUN until something kicks it.
var haltForever = []byte{0xf4, 0xeb, 0xfd} // hlt; jmp .-3

// newTestVM builds a one-vCPU VM around a PVH guest of raw 32-bit code
// loaded at 1 MiB.
func newTestVM(t testing.TB, code []byte, mutate func(*Config)) *VM {
	t.Helper()
	if _, err := os.Stat("/dev/kvm"); err != nil {
		testutil.Missing(t, "needs /dev/kvm: %v", err)
	}
	cfg := Config{Kernel: buildELF(elfMachineX86_64, 0x100000, code, 0x100000, 0x100000),
		KernelName: "test guest", MemSize: minMemSize, CPUs: 1}
	if mutate != nil {
		mutate(&cfg)
	}
	vm, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return vm
}

// TestStopUnderSignalStorm stops a halted guest while its vCPU thread is
// flooded with signals, hundreds of times: every KVM_RUN interrupted by a
// signal races the Stop. A Stop may never be lost, so Run must return.
// (Before the fix, the loop checked for a stop and only then cleared
// kvm_run.immediate_exit, wiping out a Stop that landed in between; a few
// percent of these runs hung.)
func TestStopUnderSignalStorm(t *testing.T) {
	runs := 200
	if testing.Short() {
		runs = 30
	}
	for i := 0; i < runs; i++ {
		vm := newTestVM(t, haltForever, nil)
		done := make(chan Result, 1)
		go func() { done <- vm.Run() }()
		var stopStorm atomic.Bool
		stormDone := make(chan struct{})
		go func() {
			defer close(stormDone)
			runtime.LockOSThread()
			for n := 0; !stopStorm.Load(); n++ {
				if n%16 == 0 {
					// A stop-the-world preempts the vCPU goroutine wherever
					// it is between two KVM_RUNs, which widens any window
					// in which a Stop can be lost.
					runtime.GC()
				}
				vm.vcpusMu.Lock()
				for _, th := range vm.vcpus {
					th.mu.Lock()
					if th.tid != 0 {
						_ = unix.Tgkill(unix.Getpid(), th.tid, unix.SIGURG)
					}
					th.mu.Unlock()
				}
				vm.vcpusMu.Unlock()
			}
		}()
		time.Sleep(time.Duration(rand.IntN(300)) * time.Microsecond)
		vm.Stop(Result{Status: 7})
		// The storm ends with the Stop: a lost stop then has no later
		// signal to rescue it, as when the EINTR came from a one-off source.
		stopStorm.Store(true)
		select {
		case res := <-done:
			if res.Status != 7 {
				t.Fatalf("run %d: status %d, want the Stop's 7", i, res.Status)
			}
		case <-time.After(30 * time.Second): // a hang guard only: a healthy stop takes microseconds
			t.Fatalf("run %d of %d: Run still blocked 30 s after Stop: the stop was lost", i, runs)
		}
		<-stormDone
		vm.Close()
	}
}

// TestStopLandingDuringReentryIsSeen replays, deterministically, the
// interleaving the storm test can only hope to hit: a Stop that lands while
// the vCPU thread is between an interrupted KVM_RUN and the next one. The
// Stop is injected at the moment immediate_exit is cleared; the vCPU must
// then see the stop rather than re-enter with immediate_exit cleared.
func TestStopLandingDuringReentryIsSeen(t *testing.T) {
	vm := &VM{stopped: make(chan struct{})}
	var immediateExit bool
	stopping := vm.stoppingAfterInterrupt(func() {
		vm.Stop(Result{Status: 3}) // the kick sets immediate_exit...
		immediateExit = true
		immediateExit = false // ...and the vCPU thread clears it
	})
	if !stopping && !immediateExit {
		t.Fatal("a Stop that landed during re-entry was lost: not seen, and immediate_exit is cleared")
	}

	// A Stop before the interrupt was handled is seen too, and a VM that
	// was not stopped re-enters.
	if !vm.stoppingAfterInterrupt(func() {}) {
		t.Fatal("a stopped VM re-entered")
	}
	if (&VM{stopped: make(chan struct{})}).stoppingAfterInterrupt(func() {}) {
		t.Fatal("a running VM reported a stop")
	}
}
