//go:build linux

package hostcheck

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"vmm/internal/testutil"
)

// TestRunOnThisHost runs every check for real. This machine has /dev/kvm
// and io_uring, and the tests run as root, so everything must pass.
func TestRunOnThisHost(t *testing.T) {
	if _, err := os.Stat("/dev/kvm"); err != nil {
		testutil.Missing(t, "no /dev/kvm on this machine")
	}
	if os.Geteuid() != 0 {
		t.Skip("the all-pass expectation is for root; see cmd/vmm's unprivileged test")
	}
	r := Run(Options{})
	names := map[string]bool{}
	for _, c := range r.Checks {
		if c.Status == Fail {
			t.Errorf("%s failed: %s (fix: %s)", c.Name, c.Detail, c.Fix)
		}
		if c.Status != Pass && c.Fix == "" {
			t.Errorf("%s is %s without a fix", c.Name, c.Status)
		}
		if names[c.Name] {
			t.Errorf("duplicate check name %q", c.Name)
		}
		names[c.Name] = true
	}
	for _, n := range []string{"identity", "device", "device-access", "device-open", "kvm-api-version", "kvm-cap IRQCHIP",
		"kvm-cap IMMEDIATE_EXIT", "kvm-limits", "kvm-create-vm", "kvm-backend", "host-is-guest", "io_uring-sysctl",
		"io_uring-setup", "io_uring-opcodes", "io_uring-eventfd-read", "memlock", "capabilities"} {
		if !names[n] {
			t.Errorf("no %q check", n)
		}
	}
	if !r.OK {
		t.Errorf("report not OK")
	}
	b, err := json.Marshal(r)
	if err != nil || !bytes.Contains(b, []byte(`"ok":true`)) {
		t.Errorf("JSON: %s, %v", b, err)
	}
}

func TestRunWrongDevice(t *testing.T) {
	r := Run(Options{Device: "/dev/null"})
	if r.OK || len(r.Failed()) == 0 || r.Failed()[0].Name != "device" {
		t.Fatalf("Run(/dev/null): ok %v, failed %+v", r.OK, r.Failed())
	}
}

func TestWriteTable(t *testing.T) {
	r := Report{OK: false, Checks: []Check{
		{Name: "a", Status: Pass, Detail: "fine"},
		{Name: "longer-name", Status: Fail, Detail: "broken", Fix: "do this"},
		{Name: "w", Status: Warn, Detail: "meh", Fix: "maybe that"},
	}}
	var b bytes.Buffer
	if err := WriteTable(&b, r, false); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	lines := strings.Split(out, "\n")
	if !strings.HasPrefix(lines[1], "a            PASS    fine") || !strings.HasPrefix(lines[2], "longer-name  FAIL    broken") ||
		lines[3] != "                     fix: do this" || !strings.Contains(out, "1 of 3 checks failed") {
		t.Errorf("table:\n%s", out)
	}
	if strings.Contains(out, "\x1b[") {
		t.Errorf("colour codes without color")
	}
	b.Reset()
	WriteTable(&b, r, true)
	if !strings.Contains(b.String(), colorRed+"FAIL") {
		t.Errorf("no colour with color=true")
	}
}
