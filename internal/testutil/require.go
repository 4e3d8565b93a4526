package testutil

import (
	"fmt"
	"os"
	"testing"
)

// StrictEnv is set by `make test` (and so by CI). Under it a test whose
// prerequisite is missing (a build artifact, /dev/kvm, io_uring) fails
// instead of skipping: a skip would let the run pass without the test.
const StrictEnv = "VMM_TEST_STRICT"

// Strict reports whether missing prerequisites must fail the run.
func Strict() bool { return os.Getenv(StrictEnv) != "" }

// Missing ends the test because a prerequisite is absent: a skip with the
// reason normally, a failure under `make test` (VMM_TEST_STRICT set).
func Missing(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if Strict() {
		t.Fatalf("%s (%s is set: make test requires it)", msg, StrictEnv)
	}
	t.Skip(msg)
}
