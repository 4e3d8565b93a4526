package main

import (
	"errors"
	"fmt"

	"github.com/sirupsen/logrus"

	"vmm/api"
	"vmm/vmm"
	"vmm/vmm/fcconfig"
)

// serveAPI serves Firecracker's API on --api-sock. With --config-file the
// VM starts at once; otherwise vmm waits for the API's InstanceStart (or
// a signal, or --timeout). vmm exits when the VM stops, as Firecracker
// does; the socket goes with it.
func (r *runner) serveAPI() error {
	l, err := api.Listen(r.plan.f.apiSock)
	if err != nil {
		return err
	}
	preStarted := r.plan.f.configFile != ""
	if preStarted {
		if err := r.build(r.plan.res); err != nil {
			l.Close()
			return err
		}
	}
	srv := api.New(api.Options{ID: r.plan.f.id, Version: version, Machine: r, Resources: r.plan.res, Running: preStarted})
	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }()
	defer func() {
		srv.Close() // no request reaches the VM once it is torn down
		if err := <-served; err != nil {
			logrus.WithError(err).Warn("API server")
		}
	}()
	logrus.WithField("socket", r.plan.f.apiSock).Info("serving the API")
	if !preStarted {
		select {
		case <-r.started:
		case s := <-r.sigs:
			logrus.WithField("signal", s.String()).Info("stopping on signal before the VM started")
			r.report.endedWithout(vmm.ReasonSignal, s.String())
			return nil
		case <-r.timedOut:
			r.report.endedWithout(vmm.ReasonTimeout, "")
			return &exitError{code: exitTimeout, msg: fmt.Sprintf("no VM was started within --timeout %v", r.plan.f.timeout)}
		}
	}
	return r.run()
}

// The api.Machine methods. The server calls them one at a time.

// Start builds the VM from res; the main goroutine, waiting in serveAPI,
// runs it.
func (r *runner) Start(res *fcconfig.Resources) error { return r.build(res) }

func (r *runner) running() (*vmm.VM, error) {
	if r.vm == nil {
		return nil, errors.New("the VM is not running")
	}
	return r.vm, nil
}

func (r *runner) SendCtrlAltDel() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	vm, err := r.running()
	if err != nil {
		return err
	}
	return vm.SendCtrlAltDel()
}

func (r *runner) UpdateDrive(index int, path string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	vm, err := r.running()
	if err != nil {
		return err
	}
	if r.sandboxed {
		return errSandboxedDriveUpdate
	}
	return vm.UpdateDisk(index, path)
}

func (r *runner) FlushMetrics() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.metrics == nil {
		return errors.New("no metrics are configured")
	}
	return r.metrics.Flush()
}
