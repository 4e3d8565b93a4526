package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/bits"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"vmm/internal/testutil"
)

// TestCheckHelperProcess is not a test: when the parent test runs this
// binary with VMM_CHECK_HELPER=1, it behaves as `vmm` with the arguments
// after "--". That lets the tests run the real CLI as another user without
// building a second binary.
func TestCheckHelperProcess(t *testing.T) {
	if os.Getenv("VMM_CHECK_HELPER") != "1" {
		return
	}
	args := os.Args
	for i, a := range args {
		if a == "--" {
			args = args[i+1:]
			break
		}
	}
	os.Exit(execute(args))
}

// helperBinary copies this test binary into a world-readable directory so
// an unprivileged user can execute it.
func helperBinary(t *testing.T) string {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatalf("os.Executable: %v", err)
	}
	dir, err := os.MkdirTemp("", "vmm-check-test")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(dir, "vmm.test")
	in, err := os.Open(self)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
	return dst
}

// runVMM runs `vmm args...` through the helper binary, optionally wrapped
// in prefix (e.g. setpriv), and returns stdout, stderr and the exit status.
func runVMM(t *testing.T, bin string, prefix []string, args ...string) (string, string, int) {
	t.Helper()
	argv := append(append([]string{}, prefix...), bin, "-test.run=^TestCheckHelperProcess$", "--")
	argv = append(argv, args...)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), "VMM_CHECK_HELPER=1")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("running %v: %v", argv, err)
	}
	for _, s := range []string{stdout.String(), stderr.String()} {
		if strings.Contains(s, "panic:") || strings.Contains(s, "goroutine ") {
			t.Fatalf("vmm %v crashed:\n%s", args, s)
		}
	}
	return stdout.String(), stderr.String(), code
}

func needKVM(t *testing.T) {
	t.Helper()
	if _, err := os.Stat("/dev/kvm"); err != nil {
		testutil.Missing(t, "no /dev/kvm on this machine")
	}
}

// TestCheckPassesHere runs `vmm check` in process: as root on this machine
// every check passes and the exit status is 0.
func TestCheckPassesHere(t *testing.T) {
	needKVM(t)
	if os.Geteuid() != 0 {
		t.Skip("expects root; the unprivileged case is TestCheckUnprivileged")
	}
	out := captureStdout(t, func() {
		if code := execute([]string{"check"}); code != 0 {
			t.Errorf("vmm check exited %d; want 0", code)
		}
	})
	if !strings.Contains(out, "device-open") || !strings.Contains(out, "checks passed") || strings.Contains(out, "FAIL") {
		t.Errorf("output:\n%s", out)
	}
}

// captureStdout points the CLI's stdout at a temp file while f runs.
func captureStdout(t *testing.T, f func()) string {
	t.Helper()
	tmp, err := os.CreateTemp(t.TempDir(), "stdout")
	if err != nil {
		t.Fatal(err)
	}
	defer tmp.Close()
	old := stdout
	stdout = func() *os.File { return tmp }
	defer func() { stdout = old }()
	f()
	b, err := os.ReadFile(tmp.Name())
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestCheckJSON(t *testing.T) {
	needKVM(t)
	out := captureStdout(t, func() { execute([]string{"check", "--json"}) })
	var r struct {
		OK     *bool `json:"ok"`
		Checks []struct {
			Name, Status, Detail string
			Fix                  *string
		} `json:"checks"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("--json output is not JSON: %v\n%s", err, out)
	}
	if r.OK == nil || len(r.Checks) < 15 {
		t.Fatalf("--json: ok %v, %d checks", r.OK, len(r.Checks))
	}
	names := map[string]bool{}
	for _, c := range r.Checks {
		if c.Name == "" || c.Detail == "" || c.Fix == nil || (c.Status != "pass" && c.Status != "warn" && c.Status != "fail") {
			t.Errorf("malformed check %+v", c)
		}
		names[c.Name] = true
	}
	for _, n := range []string{"identity", "device", "device-access", "device-open", "kvm-api-version", "kvm-backend",
		"host-is-guest", "io_uring-setup", "io_uring-opcodes", "memlock", "capabilities", "seccomp", "no_new_privs", "landlock"} {
		if !names[n] {
			t.Errorf("--json lacks %q", n)
		}
	}
	// The KVM extensions vmm uses, each checked by name (docs/check.md).
	wantCaps := []string{"IRQCHIP", "USER_MEMORY", "SET_TSS_ADDR", "PIT2", "PIT_STATE2", "IOEVENTFD", "IRQFD",
		"IRQ_ROUTING", "ADJUST_CLOCK", "MP_STATE", "VCPU_EVENTS", "XSAVE", "XCRS", "EXT_CPUID", "IMMEDIATE_EXIT"}
	var gotCaps []string
	for _, c := range r.Checks {
		if n, ok := strings.CutPrefix(c.Name, "kvm-cap "); ok {
			gotCaps = append(gotCaps, n)
			if c.Status != "pass" {
				t.Errorf("%s: %s %s (this host's KVM has every extension vmm needs)", c.Name, c.Status, c.Detail)
			}
		}
		if c.Name == "capabilities" {
			checkCapabilitiesDetail(t, c.Detail)
		}
	}
	if !slices.Equal(gotCaps, wantCaps) {
		t.Errorf("kvm-cap checks %q, want %q", gotCaps, wantCaps)
	}
}

// checkCapabilitiesDetail holds the capabilities check's detail against
// this process's CapEff, read here independently of vmm/hostcheck: the
// named capabilities must be exactly the ones set (or, in the "all but"
// form, exactly the ones clear).
func checkCapabilitiesDetail(t *testing.T, detail string) {
	t.Helper()
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^CapEff:\s*([0-9a-f]+)$`).FindSubmatch(status)
	if m == nil {
		t.Fatalf("no CapEff in /proc/self/status")
	}
	capEff, err := strconv.ParseUint(string(m[1]), 16, 64)
	if err != nil {
		t.Fatal(err)
	}
	list, ok := strings.CutPrefix(detail, "effective: ")
	list, _, ok2 := strings.Cut(list, " (for information")
	if !ok || !ok2 {
		t.Fatalf("capabilities detail %q: want \"effective: LIST (for information...)\"", detail)
	}
	named := map[string]bool{}
	allBut := false
	switch {
	case list == "none":
		if capEff != 0 {
			t.Errorf("capabilities detail says none; CapEff is %#x", capEff)
		}
	case strings.HasPrefix(list, fmt.Sprintf("%#x, all", capEff)):
		rest := strings.TrimPrefix(list, fmt.Sprintf("%#x, all", capEff))
		allBut = true
		if r, ok := strings.CutPrefix(rest, " but "); ok {
			rest = r
		} else if rest != "" {
			t.Errorf("capabilities detail %q", detail)
		}
		for _, n := range strings.Split(rest, ",") {
			named[n] = n != ""
		}
	default:
		for _, n := range strings.Split(list, ",") {
			named[n] = true
		}
		if len(named) != bits.OnesCount64(capEff) {
			t.Errorf("capabilities detail names %d capabilities; CapEff %#x has %d", len(named), capEff, bits.OnesCount64(capEff))
		}
	}
	// A few bits from include/uapi/linux/capability.h.
	for bit, name := range map[int]string{0: "cap_chown", 1: "cap_dac_override", 12: "cap_net_admin",
		14: "cap_ipc_lock", 21: "cap_sys_admin", 24: "cap_sys_resource", 40: "cap_checkpoint_restore"} {
		set := capEff&(1<<bit) != 0
		if named[name] != (set != allBut) {
			t.Errorf("capabilities detail %q is wrong about %s (CapEff %#x)", detail, name, capEff)
		}
	}
}

// TestCheckBadDevices points --device at three wrong things; each fails
// with exit 1 and its own message.
func TestCheckBadDevices(t *testing.T) {
	dir := t.TempDir()
	reg := filepath.Join(dir, "regular")
	if err := os.WriteFile(reg, []byte("not kvm"), 0o644); err != nil {
		t.Fatal(err)
	}
	bin := helperBinary(t)
	for _, c := range []struct{ path, want string }{
		{filepath.Join(dir, "missing"), "does not exist"},
		{reg, "is a regular file, not a device node"},
		{"/dev/null", "is character device 1:3 (that is /dev/null), not KVM (10:232)"},
	} {
		out, errOut, code := runVMM(t, bin, nil, "check", "--device", c.path)
		if code != 1 {
			t.Errorf("--device %s: exit %d; want 1", c.path, code)
		}
		if !strings.Contains(out, c.path+" "+c.want) {
			t.Errorf("--device %s: output lacks %q:\n%s", c.path, c.want, out)
		}
		if !strings.Contains(errOut, "check failed") || !strings.Contains(errOut, "starting with device") {
			t.Errorf("--device %s: stderr %q", c.path, errOut)
		}
		jout, _, jcode := runVMM(t, bin, nil, "check", "--json", "--device", c.path)
		if jcode != 1 || !json.Valid([]byte(jout)) || !strings.Contains(jout, `"ok": false`) {
			t.Errorf("--json --device %s: exit %d, output:\n%s", c.path, jcode, jout)
		}
	}
	if _, errOut, code := runVMM(t, bin, nil, "check", "--device", ""); code != 2 || !strings.Contains(errOut, "--device needs a path") {
		t.Errorf("--device '': exit %d, stderr %q; want usage error 2", code, errOut)
	}
}

// TestCheckUnprivileged runs check as nobody with no groups: /dev/kvm
// (root:root 0600 here) is not accessible, the check says so and how to fix it.
func TestCheckUnprivileged(t *testing.T) {
	needKVM(t)
	if os.Geteuid() != 0 {
		t.Skip("needs root to switch to nobody")
	}
	setpriv, err := exec.LookPath("setpriv")
	if err != nil {
		testutil.Missing(t, "setpriv (util-linux) not installed")
	}
	bin := helperBinary(t)
	prefix := []string{setpriv, "--reuid=65534", "--regid=65534", "--clear-groups"}
	out, errOut, code := runVMM(t, bin, prefix, "check")
	if code != 1 {
		t.Fatalf("exit %d; want 1\n%s\n%s", code, out, errOut)
	}
	for _, want := range []string{
		"euid 65534",
		"open /dev/kvm read/write as nobody: permission denied",
		"setfacl -m u:nobody:rw /dev/kvm",
		"usermod -aG",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "CAP_SYS_ADMIN") && !strings.Contains(out, "io_uring_group") {
		t.Errorf("output mentions CAP_SYS_ADMIN:\n%s", out)
	}
	if !strings.Contains(errOut, "starting with device-access") {
		t.Errorf("stderr %q", errOut)
	}
}
