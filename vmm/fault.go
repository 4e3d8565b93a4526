package vmm

import (
	"fmt"
	"runtime/debug"
)

// guardFaults runs fn with memory faults turned into an error. The kernel
// and initrd reach New as read-only mappings of the user's files (cmd/vmm
// maps them rather than copying them onto the heap); if another process
// truncates a file while it loads, touching the lost pages raises SIGBUS,
// which would otherwise crash the process with a stack trace.
//
// Preconditions: fn runs on this goroutine (SetPanicOnFault is per goroutine).
func guardFaults(what string, fn func() error) (err error) {
	old := debug.SetPanicOnFault(true)
	defer debug.SetPanicOnFault(old)
	defer func() {
		r := recover()
		if r == nil {
			return
		}
		if f, ok := r.(interface{ Addr() uintptr }); ok {
			err = fmt.Errorf("%s: the file changed while it was being loaded (memory fault at %#x): try again", what, f.Addr())
			return
		}
		panic(r)
	}()
	return fn()
}
