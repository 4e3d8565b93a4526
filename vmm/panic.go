package vmm

import (
	"fmt"
	"runtime/debug"

	"github.com/sirupsen/logrus"
)

// RecoverPanic turns a panic in a VMM goroutine into a stop of the whole VM
// with status 1 and a one-line error, instead of a crash that leaves the
// terminal raw and guest state unflushed. The stack goes to the debug log.
// Defer it directly at the top of every goroutine the VMM starts:
//
//	defer vm.RecoverPanic("console input")
func (vm *VM) RecoverPanic(where string) {
	r := recover()
	if r == nil {
		return
	}
	logrus.WithField("stack", string(debug.Stack())).Debugf("panic in %s", where)
	vm.Stop(Result{Status: 1, Err: fmt.Errorf("internal error in %s: %v (a bug in vmm; --log-level debug shows where)", where, r)})
}
