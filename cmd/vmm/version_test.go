package main

import (
	"runtime"
	"strings"
	"testing"
)

func TestVersionAndUsageErrors(t *testing.T) {
	out := captureStdout(t, func() {
		if code := execute([]string{"version"}); code != 0 {
			t.Errorf("version exited %d", code)
		}
	})
	if !strings.HasPrefix(out, "vmm ") || !strings.Contains(out, "commit ") || !strings.Contains(out, runtime.Version()) {
		t.Fatalf("version output %q", out)
	}
	for _, args := range [][]string{{"frobnicate"}, {"--log-level", "loud", "version"}, {"--log-format", "xml", "version"}, {"version", "extra"}} {
		if code := execute(args); code != 2 {
			t.Errorf("vmm %v exited %d, want 2 (usage)", args, code)
		}
	}
	out = captureStdout(t, func() { execute([]string{"completion", "bash"}) })
	if !strings.Contains(out, "bash completion") {
		t.Errorf("no bash completion script")
	}
}
