package main

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"vmm/vmm"
	"vmm/vmm/fcconfig"
	"vmm/vmm/telemetry"
)

// runner builds and runs one VM for vmm run, and is the api.Machine the
// API server drives.
type runner struct {
	plan     *runPlan
	report   *runReport
	sigs     <-chan os.Signal
	timedOut chan struct{} // closed when --timeout expires
	timer    *time.Timer
	started  chan struct{} // closed once a VM is built (the API's InstanceStart)

	mu        sync.Mutex // guards what follows against the API's goroutines
	vm        *vmm.VM
	console   *console
	restore   func()
	waitInput func()
	drives    []string // drive ids, in disk order
	metrics   *telemetry.Metrics
	logOut    *telemetry.Output
	closed    bool
	sandboxed bool // the sandbox is on: no new file can be opened
}

func newRunner(plan *runPlan, report *runReport, sigs <-chan os.Signal) *runner {
	r := &runner{plan: plan, report: report, sigs: sigs, timedOut: make(chan struct{}), started: make(chan struct{}),
		restore: func() {}, waitInput: func() {}}
	if plan.f.timeout > 0 {
		r.timer = time.AfterFunc(plan.f.timeout, func() { close(r.timedOut) })
	}
	return r
}

// build creates the VM from res, opens the console and starts its input.
// Nothing runs until run.
func (r *runner) build(res *fcconfig.Resources) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return errors.New("vmm is exiting")
	}
	if r.vm != nil {
		return errors.New("the VM is already started")
	}
	if r.plan.embedded {
		named := *res
		named.KernelPath = embeddedKernelName
		res = &named
	}
	l, err := res.Launch(r.plan.defaultBootArgs())
	if err != nil {
		return err
	}
	cfg := r.plan.vmConfig(l)
	cfg.BeforeRun = r.beforeRun(r.plan.sandboxConfig(l.Disks))
	var kernel, initrd *inputFile
	defer func() { kernel.close(); initrd.close() }()
	if r.plan.embedded {
		if cfg.Kernel, err = embeddedKernel(); err != nil {
			return err
		}
		cfg.KernelName = embeddedKernelName
	} else {
		if kernel, err = openInput("kernel", l.KernelPath, cfg.MemSize); err != nil {
			return err
		}
		cfg.Kernel, cfg.KernelName = kernel.data, l.KernelPath
	}
	if l.InitrdPath != "" {
		if initrd, err = openInput("initrd", l.InitrdPath, cfg.MemSize); err != nil {
			return err
		}
		cfg.Initrd, cfg.InitrdName = initrd.data, l.InitrdPath
	}
	vm, err := vmm.New(cfg)
	if err != nil {
		return err
	}
	kernel.close() // loaded into guest RAM: the mappings can go
	initrd.close()

	// Only now, with the VM built, is the console file created or truncated.
	con, err := r.plan.console.open()
	if err != nil {
		vm.Close()
		return err
	}
	vm.SetConsole(con.writer())
	restore, waitInput, err := con.startInput(vm)
	if err != nil {
		con.abandon()
		vm.Close()
		return err
	}
	r.vm, r.console, r.restore, r.waitInput = vm, con, restore, waitInput
	r.drives = nil
	for _, d := range res.Drives {
		r.drives = append(r.drives, d.ID)
	}
	if r.metrics != nil {
		r.metrics.Attach(vm.Stats, r.drives)
	}
	close(r.started)
	return nil
}

// run runs the built VM until it stops and maps how it ended to an exit
// status.
func (r *runner) run() error {
	vm := r.vm
	done := make(chan struct{})
	defer close(done)
	go watchSignals(r.sigs, done, vm, r.forcedExit)
	go func() {
		select {
		case <-r.timedOut:
			logrus.WithField("timeout", r.plan.f.timeout).Info("the VM ran longer than --timeout; stopping")
			vm.Stop(vmm.Result{Status: exitTimeout, Reason: vmm.ReasonTimeout})
		case <-done:
		}
	}()
	res := vm.Run()
	r.waitInput()
	r.restore()
	logrus.Info("emulation repairs: " + vm.Repairs())
	r.report.vmEnded(res, vm, r.drives)
	return r.exitFor(res)
}

// exitFor maps the VM's end to runVM's error: nil for status 0, an
// exitError with the status otherwise, after printing a failure's
// one-line summary and details.
func (r *runner) exitFor(res vmm.Result) error {
	if res.Reason == vmm.ReasonTimeout {
		return &exitError{code: exitTimeout, msg: fmt.Sprintf("the VM ran longer than --timeout %v: stopped it", r.plan.f.timeout)}
	}
	if res.Err != nil {
		// The one-line summary first, then the details for a bug report.
		fmt.Fprintln(os.Stderr, "vmm: "+res.Err.Error())
		var crash *vmm.GuestCrash
		if errors.As(res.Err, &crash) && crash.Dump != "" {
			fmt.Fprint(os.Stderr, crash.Dump)
		}
		return &exitError{code: max(res.Status, 1)}
	}
	if res.Status != 0 {
		return &exitError{code: res.Status}
	}
	return nil
}

// forcedExit runs before vmm exits on a second signal without waiting for
// the VM: the terminal, the result and the API socket are all that can
// still be put right.
func (r *runner) forcedExit(sig os.Signal) {
	r.restore()
	r.report.forced(1, sig.String())
	if r.plan.f.apiSock != "" {
		_ = os.Remove(r.plan.f.apiSock)
	}
}

// close releases everything in order: terminal, console, metrics (a last
// line, while the VM's counters can still be read), the VM, the log file.
func (r *runner) close() {
	if r.timer != nil {
		r.timer.Stop()
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed = true
	r.restore()
	if r.console != nil {
		r.console.close()
	}
	if r.metrics != nil {
		if err := r.metrics.Close(); err != nil {
			logrus.WithError(err).Warn("writing the last metrics")
		}
	}
	if r.vm != nil {
		r.vm.Close()
	}
	if r.logOut != nil {
		logrus.SetOutput(os.Stderr)
		_ = r.logOut.Close()
	}
}
