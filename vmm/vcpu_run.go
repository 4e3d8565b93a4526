package vmm

import (
	"errors"
	"fmt"
	"runtime"
	"sync"

	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"

	"vmm/kvm"
)

// vcpuThread is one vCPU and the OS thread that owns it.
type vcpuThread struct {
	id        int
	readyOnce sync.Once

	mu  sync.Mutex // guards cpu and tid against kick racing the thread's exit
	cpu *kvm.VCPU  // nil until configured and after close
	tid int        // 0 once the thread is gone
}

// kick makes the vCPU leave KVM_RUN: immediate_exit covers a thread about
// to enter, the signal one already inside (KVM_RUN returns EINTR). SIGURG is
// Go's own preemption signal, so the runtime already handles it harmlessly.
func (t *vcpuThread) kick() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.cpu != nil {
		t.cpu.SetImmediateExit(true)
	}
	if t.tid != 0 {
		_ = unix.Tgkill(unix.Getpid(), t.tid, unix.SIGURG)
	}
}

// attach publishes the thread and its vCPU so kick can reach them.
func (t *vcpuThread) attach(tid int, c *kvm.VCPU) {
	t.mu.Lock()
	t.tid, t.cpu = tid, c
	t.mu.Unlock()
}

// detach closes the vCPU once no kick can touch it any more.
func (t *vcpuThread) detach() {
	t.mu.Lock()
	c := t.cpu
	t.tid, t.cpu = 0, nil
	t.mu.Unlock()
	if c != nil {
		_ = c.Close()
	}
}

// Run starts every vCPU and blocks until the VM stops, returning how it
// ended. Each vCPU is created, configured and run on its own locked thread,
// and GOMAXPROCS kept above the number of vCPUs while it runs (reserveProcs).
func (vm *VM) Run() Result {
	n := vm.cfg.CPUs
	defer reserveProcs(n)()
	vm.console.start(vm)
	ready := make(chan error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	vm.vcpusMu.Lock()
	for id := 0; id < n; id++ {
		t := &vcpuThread{id: id}
		vm.vcpus = append(vm.vcpus, t)
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Run waits for every thread's ready: a thread that dies first
			// (a panic, recovered below) still answers.
			defer t.signalReady(ready, errors.New("vCPU thread ended before it was ready"))
			defer vm.RecoverPanic(fmt.Sprintf("vCPU %d", t.id))
			vm.vcpuMain(t, ready, start)
		}()
	}
	vm.vcpusMu.Unlock()
	var setupErr error
	for i := 0; i < n; i++ {
		if err := <-ready; err != nil && setupErr == nil {
			setupErr = err
		}
	}
	if setupErr == nil && vm.cfg.BeforeRun != nil {
		setupErr = vm.cfg.BeforeRun()
	}
	if setupErr != nil {
		vm.Stop(Result{Status: 1, Err: setupErr})
	}
	close(start)
	<-vm.stopped // Stop has kicked every vCPU
	wg.Wait()
	// Everything the guest printed reaches the console before Run returns.
	// This waits as long as the console does (a reader that stopped
	// reading holds it up; cmd/vmm exits on a second signal).
	vm.console.close()
	return vm.result
}

// signalReady tells Run this thread is set up (err nil) or failed; only
// the first call counts.
func (t *vcpuThread) signalReady(ready chan<- error, err error) {
	t.readyOnce.Do(func() { ready <- err })
}

// vcpuMain is the body of one vCPU thread.
func (vm *VM) vcpuMain(t *vcpuThread, ready chan<- error, start <-chan struct{}) {
	// The thread is never unlocked: it exits with the goroutine, so no
	// other goroutine inherits its signal or KVM state.
	runtime.LockOSThread()
	c, err := vm.vm.CreateVCPU(t.id)
	if err == nil {
		err = vm.configureVCPU(c)
		if err != nil {
			_ = c.Close()
		}
	} else {
		err = fmt.Errorf("create vCPU %d: %w", t.id, err)
	}
	if err != nil {
		t.signalReady(ready, err)
		return
	}
	t.attach(unix.Gettid(), c)
	defer t.detach()
	t.signalReady(ready, nil)
	<-start
	select {
	case <-vm.stopped:
		return
	default:
	}
	vm.timing.markFirstRun()
	logrus.WithField("vcpu", t.id).Debug("entering the guest (first KVM_RUN)")
	err = vm.runLoop(c)
	var req exitRequest
	switch {
	case errors.Is(err, errStopped):
	case errors.As(err, &req):
		vm.Stop(Result{Status: req.status, Reason: exitRequestReason(c.RunData())})
	case err != nil:
		vm.Stop(Result{Status: 1, Err: err})
	}
}

// runLoop enters the guest until the VM stops or the vCPU hits something
// the VMM cannot continue from.
func (vm *VM) runLoop(c *kvm.VCPU) error {
	run := c.RunData()
	for {
		err := c.Run()
		switch err {
		case nil:
		case unix.EINTR, unix.EAGAIN:
			// A signal (a stop's kick, Go's preemption) or an AP woken by
			// INIT/SIPI: re-enter unless the VM is stopping.
			if vm.stoppingAfterInterrupt(func() { c.SetImmediateExit(false) }) {
				logStoppedAt(c)
				return errStopped
			}
			continue
		default:
			return fmt.Errorf("vCPU %d: KVM_RUN: %w", c.ID(), err)
		}
		if vm.isStopped() {
			logStoppedAt(c)
			return errStopped
		}
		if err := vm.handleExit(c, run); err != nil {
			return err
		}
	}
}

// handleExit counts and acts on the exit KVM_RUN just reported in run (c's
// kvm_run): nil means enter the guest again. It is apart from runLoop so
// that a benchmark can feed it a synthetic exit (handle_exit_bench_test.go);
// the port I/O and MMIO paths must not allocate.
func (vm *VM) handleExit(c *kvm.VCPU, run *kvm.Run) error {
	vm.exits[c.ID()].count(run)
	switch reason := run.ExitReason; reason {
	case kvm.ExitIO:
		dir, size, port, count, _ := run.IO()
		data := c.IOData()
		if data == nil {
			return vm.describeCrash(c, fmt.Sprintf("KVM reported port I/O (port %#x, %d x %d bytes) outside kvm_run", port, count, size))
		}
		for i := uint32(0); i < count && int(size)*int(i+1) <= len(data); i++ {
			b := data[int(size)*int(i) : int(size)*int(i+1)]
			if dir == kvm.IODirectionOut {
				vm.pio.Write(uint64(port), b)
			} else {
				vm.pio.Read(uint64(port), b)
			}
		}
	case kvm.ExitMMIO:
		addr, data, n, write := run.MMIO()
		if write {
			vm.mmio.Write(addr, data[:n])
		} else {
			vm.mmio.Read(addr, data[:n])
		}
	case kvm.ExitHLT:
		// Only reached without an in-kernel LAPIC; treat as power-off.
		logrus.WithField("vcpu", c.ID()).Info("guest halted")
		return vmExit(0)
	case kvm.ExitShutdown:
		return vm.describeCrash(c, "guest triple-faulted (KVM_EXIT_SHUTDOWN): the guest kernel crashed before it could report why")
	case kvm.ExitSystemEvent:
		typ, _ := run.SystemEvent()
		switch typ {
		case kvm.SystemEventShutdown, kvm.SystemEventReset:
			logrus.WithField("type", typ).Info("guest system event; stopping")
			return vmExit(0)
		default:
			return fmt.Errorf("vCPU %d: guest reported system event %d (crash)", c.ID(), typ)
		}
	case kvm.ExitFailEntry:
		hw, cpu := run.FailEntry()
		return vm.describeCrash(c, fmt.Sprintf("KVM could not enter the guest (KVM_EXIT_FAIL_ENTRY, hardware reason %#x on host CPU %d)", hw, cpu))
	case kvm.ExitInternalError:
		if sub, _ := run.InternalError(); sub == kvm.InternalErrorEmulation {
			ok, err := vm.tryRepair(c)
			if err != nil {
				return fmt.Errorf("vCPU %d: %w", c.ID(), err)
			}
			if ok {
				return nil
			}
		}
		return vm.internalError(c)
	default:
		return vm.describeCrash(c, fmt.Sprintf("unexpected exit %s (%d)", kvm.ExitReasonName(reason), reason))
	}
	return nil
}

// stoppingAfterInterrupt runs after a KVM_RUN that a signal interrupted:
// it clears kvm_run.immediate_exit and then reports whether the VM is
// stopping. The order matters. Stop closes vm.stopped before it sets
// immediate_exit, so clearing first means a Stop either lands before the
// check (which then sees it) or sets immediate_exit again after the clear
// (and the next KVM_RUN returns at once). Checking first would let a Stop
// land between check and clear and be wiped out, leaving a halted vCPU in
// KVM_RUN for good.
func (vm *VM) stoppingAfterInterrupt(clearImmediateExit func()) bool {
	clearImmediateExit()
	return vm.isStopped()
}

// isStopped reports whether Stop has been called.
func (vm *VM) isStopped() bool {
	select {
	case <-vm.stopped:
		return true
	default:
		return false
	}
}

// exitRequest is a vCPU's request that the whole VM stop with a status.
type exitRequest struct{ status int }

func (e exitRequest) Error() string { return fmt.Sprintf("exit %d", e.status) }

func vmExit(status int) error { return exitRequest{status} }

// logStoppedAt records where a vCPU was when the VM stopped, at debug
// level: the first thing to look at when a guest hangs.
func logStoppedAt(c *kvm.VCPU) {
	if !logrus.IsLevelEnabled(logrus.DebugLevel) {
		return
	}
	regs, err := c.GetRegs()
	if err != nil {
		return
	}
	logrus.WithFields(logrus.Fields{"vcpu": c.ID(), "rip": fmt.Sprintf("%#x", regs.RIP), "rsp": fmt.Sprintf("%#x", regs.RSP),
		"rflags": fmt.Sprintf("%#x", regs.RFlags)}).Debug("vCPU stopped")
}
