package main

import (
	"fmt"
	"strings"
)

// usageError marks a mistake in how vmm was invoked (bad flag value,
// missing argument). It exits with status 2.
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

// usagef builds a usageError from a format string.
func usagef(format string, args ...any) error {
	return &usageError{fmt.Errorf(format, args...)}
}

// exitError carries an explicit exit status, for commands whose status is
// data (vmm check's verdict, the guest's test-exit value). msg may be empty
// when the command has already said everything it needs to.
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return fmt.Sprintf("exit status %d: %s", e.code, e.msg) }

// isCobraUsageError recognises the errors cobra itself returns for unknown
// commands, unknown flags and bad flag values; they are usage errors too.
func isCobraUsageError(err error) bool {
	s := err.Error()
	for _, p := range []string{"unknown command", "unknown flag", "unknown shorthand flag",
		"invalid argument", "flag needs an argument", "accepts ", "requires at least", "bad flag syntax"} {
		if strings.Contains(s, p) {
			return true
		}
	}
	return false
}
