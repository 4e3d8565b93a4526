// Command vmm is a userspace KVM virtual machine monitor.
//
// `vmm check` says whether this host can run VMs and what to fix if not;
// `vmm run` boots a guest kernel. See README.md.
package main

import (
	"errors"
	"fmt"
	"os"
)

func main() {
	os.Exit(execute(os.Args[1:]))
}

// execute runs the CLI with args and returns the process exit status:
// 0 on success, 2 for usage errors, 1 for runtime failures, or the status a
// command chose itself (exitError, e.g. the guest's test-exit value).
func execute(args []string) int {
	root := newRootCommand()
	root.SetArgs(args)
	err := root.Execute()
	if err == nil {
		return 0
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.msg != "" {
			fmt.Fprintln(os.Stderr, "vmm: "+ee.msg)
		}
		return ee.code
	}
	fmt.Fprintln(os.Stderr, "vmm: "+err.Error())
	var ue *usageError
	if errors.As(err, &ue) || isCobraUsageError(err) {
		return 2
	}
	return 1
}
