//go:build linux

package hostcheck

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestSandboxChecksOnThisHost runs the three rows against the real kernel
// and compares each with what the kernel says directly.
func TestSandboxChecksOnThisHost(t *testing.T) {
	rows := map[string]Check{}
	for _, c := range checkSandbox(&host{}) {
		rows[c.Name] = c
	}
	if len(rows) != 3 {
		t.Fatalf("checkSandbox = %+v; want seccomp, no_new_privs, landlock", rows)
	}
	actions, err := os.ReadFile("/proc/sys/kernel/seccomp/actions_avail")
	if c := rows["seccomp"]; err == nil && strings.Contains(string(actions), "kill_process") && strings.Contains(string(actions), "log") {
		if c.Status != Pass || !strings.Contains(c.Detail, strings.TrimSpace(string(actions))) {
			t.Errorf("seccomp with actions %q: %+v", actions, c)
		}
	} else if c.Status != Warn || c.Fix == "" {
		t.Errorf("seccomp without the actions (%v): %+v", err, c)
	}
	if c := rows["no_new_privs"]; c.Status != Pass {
		t.Errorf("no_new_privs: %+v", c)
	}
	v, _, errno := unix.Syscall(unix.SYS_LANDLOCK_CREATE_RULESET, 0, 0, 1)
	c := rows["landlock"]
	switch {
	case errno != 0:
		if c.Status != Warn || c.Fix == "" {
			t.Errorf("landlock (kernel: %v): %+v", errno, c)
		}
	case !strings.HasPrefix(c.Detail, "ABI "+strconv.Itoa(int(v))+":"):
		t.Errorf("landlock: kernel ABI %d, row %+v", v, c)
	case v >= 6 && c.Status != Pass, v < 6 && c.Status != Warn:
		t.Errorf("landlock ABI %d: %+v", v, c)
	}
	t.Logf("seccomp: %s\nno_new_privs: %s\nlandlock: %s", rows["seccomp"].Detail, rows["no_new_privs"].Detail, rows["landlock"].Detail)
}

func TestSeccompCheck(t *testing.T) {
	const all = "kill_process kill_thread trap errno user_notif trace log allow"
	for _, c := range []struct {
		actions     string
		actionsErr  error
		mode        int
		modeErr     error
		status      Status
		detail, fix string
	}{
		{all, nil, 0, nil, Pass, "filters available (actions: " + all + ")", ""},
		{all, nil, 2, nil, Pass, "already runs under a filter", ""},
		{"kill_thread trap errno trace allow", nil, 0, nil, Warn, "lack kill_process (for --seccomp=kill), log (for --seccomp=log)", "Linux 4.14+"},
		{"", os.ErrNotExist, 0, nil, Warn, "a kernel before 4.14", "Linux 4.14"},
		{"", os.ErrNotExist, -1, unix.EINVAL, Warn, "the kernel has no seccomp", "CONFIG_SECCOMP_FILTER=y"},
	} {
		got := seccompCheck(c.actions, c.actionsErr, c.mode, c.modeErr)
		if got.Name != "seccomp" || got.Status != c.status || !strings.Contains(got.Detail, c.detail) || !strings.Contains(got.Fix, c.fix) || (c.status != Pass) != (got.Fix != "") {
			t.Errorf("seccompCheck(%q, %v, %d, %v) = %+v; want %s with %q, fix %q", c.actions, c.actionsErr, c.mode, c.modeErr, got, c.status, c.detail, c.fix)
		}
	}
}

func TestNoNewPrivsCheck(t *testing.T) {
	if c := noNewPrivsCheck(0, nil); c.Status != Pass || strings.Contains(c.Detail, "already") {
		t.Errorf("noNewPrivsCheck(0) = %+v", c)
	}
	if c := noNewPrivsCheck(1, nil); c.Status != Pass || !strings.Contains(c.Detail, "already set") {
		t.Errorf("noNewPrivsCheck(1) = %+v", c)
	}
	if c := noNewPrivsCheck(0, unix.EINVAL); c.Status != Warn || !strings.Contains(c.Fix, "3.5") {
		t.Errorf("noNewPrivsCheck(EINVAL) = %+v", c)
	}
}

func TestLandlockCheck(t *testing.T) {
	for _, c := range []struct {
		abi         int
		err         error
		status      Status
		detail, fix string
	}{
		{7, nil, Pass, "ABI 7: vmm run restricts the VMM's files (only those it was given), TCP (no bind or connect), abstract unix sockets and signals (none reaching outside the VMM)", ""},
		{6, nil, Pass, "ABI 6:", ""},
		{4, nil, Warn, "ABI 4: vmm run restricts the VMM's files (only those it was given), TCP (no bind or connect); not abstract unix sockets and signals (none reaching outside the VMM) (ABI 6, Linux 6.12)", "Linux 6.12"},
		{1, nil, Warn, "not TCP (no bind or connect) (ABI 4, Linux 6.7), abstract unix sockets", "Linux 6.12"},
		{0, unix.ENOSYS, Warn, "built without Landlock", "CONFIG_SECURITY_LANDLOCK=y"},
		{0, unix.EOPNOTSUPP, Warn, "not enabled at boot", "lsm="},
		{0, unix.EPERM, Warn, "operation not permitted", "without Landlock"},
	} {
		got := landlockCheck(c.abi, c.err)
		if got.Name != "landlock" || got.Status != c.status || !strings.Contains(got.Detail, c.detail) || !strings.Contains(got.Fix, c.fix) || (c.status != Pass) != (got.Fix != "") {
			t.Errorf("landlockCheck(%d, %v) = %+v; want %s with %q, fix %q", c.abi, c.err, got, c.status, c.detail, c.fix)
		}
	}
}

// TestSeccompSysctlFake points the check at a fake actions_avail.
func TestSeccompSysctlFake(t *testing.T) {
	old := seccompSysctl
	defer func() { seccompSysctl = old }()
	seccompSysctl = t.TempDir()
	if err := os.WriteFile(filepath.Join(seccompSysctl, "actions_avail"), []byte("kill_thread errno\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := unix.PrctlRetInt(unix.PR_GET_SECCOMP, 0, 0, 0, 0); errors.Is(err, unix.EINVAL) {
		t.Skip("the kernel has no seccomp: the row never reads actions_avail")
	}
	c := checkSandbox(&host{})[0]
	if c.Status != Warn || !strings.Contains(c.Detail, `"kill_thread errno" lack kill_process`) {
		t.Errorf("with a fake actions_avail: %+v", c)
	}
}
