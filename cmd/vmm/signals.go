package main

import (
	"fmt"
	"os"
	"os/signal"

	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"

	"vmm/vmm"
)

// stopSignals are the signals that stop the VM. SIGQUIT is among them so
// that it, too, restores the terminal (Go's default would dump goroutines
// and exit with the terminal still raw).
var stopSignals = []os.Signal{unix.SIGINT, unix.SIGTERM, unix.SIGHUP, unix.SIGQUIT}

// catchSignals starts listening for stop signals, before anything else
// happens, so that one arriving while the guest loads is not lost. SIGPIPE
// is ignored: a closed stdout then becomes a console write error, which
// stops the VM cleanly (exit 1) instead of killing vmm with the terminal raw.
func catchSignals() (sigs chan os.Signal, stop func()) {
	signal.Ignore(unix.SIGPIPE)
	sigs = make(chan os.Signal, 4)
	signal.Notify(sigs, stopSignals...)
	return sigs, func() { signal.Stop(sigs) }
}

// watchSignals stops vm on the first stop signal. A second one exits at
// once: stopping can wait on things a user may not want to wait for (a
// console nobody reads holds up the final flush), so forced restores the
// terminal (and whatever else must not be left behind) and vmm exits with
// status 1 without waiting.
//
// It returns when done is closed.
func watchSignals(sigs <-chan os.Signal, done <-chan struct{}, vm *vmm.VM, forced func(os.Signal)) {
	defer vm.RecoverPanic("signal handler")
	first := true
	for {
		var s os.Signal
		select {
		case s = <-sigs:
		case <-done:
			return
		}
		if first {
			first = false
			logrus.WithField("signal", s.String()).Info("stopping on signal; a second signal exits at once")
			vm.Stop(vmm.Result{Status: 0, Reason: vmm.ReasonSignal, Signal: s.String()})
			continue
		}
		forced(s)
		fmt.Fprintf(os.Stderr, "vmm: second %s: exiting without waiting for the VM to finish stopping\n", s)
		os.Exit(1)
	}
}
