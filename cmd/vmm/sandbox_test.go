package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/elastic/go-seccomp-bpf/arch"
	"golang.org/x/sys/unix"

	"vmm/internal/testutil"
	"vmm/vmm/sandbox"
)

// TestSeccompProbeHelper is not a test: run with VMM_SECCOMP_PROBE=1 it
// installs the sandbox with --seccomp=log and makes one call that is off
// the list (socket), so that the kernel logs a record for it for sure.
func TestSeccompProbeHelper(t *testing.T) {
	if os.Getenv("VMM_SECCOMP_PROBE") != "1" {
		return
	}
	if _, err := sandbox.Install(sandbox.Config{Seccomp: sandbox.SeccompLog, UID: -1, GID: -1}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(3)
	}
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM, 0)
	if err == nil {
		unix.Close(fd)
	}
	os.Exit(0)
}

// buildVMM builds vmm as `make build` does (no cgo, so no libc threads:
// the race detector's test binary makes calls vmm never makes).
func buildVMM(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "vmm")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/vmm: %v\n%s", err, out)
	}
	return bin
}

// sparseImage is a zero-filled sparse disk image of size bytes.
func sparseImage(t *testing.T, name string, size int64) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	f, err := os.Create(p)
	if err == nil {
		err = f.Truncate(size)
		f.Close()
	}
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestSeccompAllowListInSync runs vmm under --seccomp=log through the tiny
// kernel's cases, the block cases on both engines (read-write, read-only,
// O_DIRECT), the API with logger and metrics, a file console, a terminal,
// --result-json and a stop by signal, and fails if the kernel logged any
// system call for it: a call the allow list lacks would end a real run
// under the default --seccomp=kill. (The Linux guest is checked the same
// way by hand: docs/security.md.)
func TestSeccompAllowListInSync(t *testing.T) {
	needKVM(t)
	tiny := tinyKernelPath(t)
	klog := testutil.OpenSeccompLog(t)
	bin := buildVMM(t)
	dir := t.TempDir()
	rw, ro := sparseImage(t, "rw.img", 32<<20), sparseImage(t, "ro.img", 32<<20)
	type run struct {
		name string
		pid  int
	}
	var runs []run
	finish := func(name string, p *vmmProcess) {
		t.Helper()
		if code := p.wait(t); code != 0 {
			t.Fatalf("%s: exit %d\nstdout:\n%s\nstderr:\n%s", name, code, tail(p.stdout.String(), 30), p.stderr.String())
		}
		runs = append(runs, run{name, p.cmd.Process.Pid})
	}
	common := []string{"run", "--seccomp=log", "--kernel", tiny, "--test-exit"}
	// The tiny kernel's cases, two vCPUs, file console, --result-json.
	finish("test=all", startProgram(t, bin, append(common, "--cpus", "2", "--cmdline", "test=all",
		"--console", "file:"+filepath.Join(dir, "console.txt"), "--result-json", filepath.Join(dir, "result.json"))...))
	for _, engine := range []string{"uring", "sync"} {
		finish("blk "+engine, startProgram(t, bin, append(common, "--cmdline", "test=blk,blk_hostile,blk_perf",
			"--disk", rw+",id=data,engine="+engine, "--disk", ro+",ro,engine="+engine, "--disk", ro+",ro,direct,engine="+engine)...))
	}
	// The API: configured through the socket, logger and metrics files,
	// a refused PATCH, FlushMetrics, Ctrl-Alt-Del.
	sock := filepath.Join(dir, "api.sock")
	p := startProgram(t, bin, "run", "--seccomp=log", "--api-sock", sock, "--test-exit", "--result-json", filepath.Join(dir, "api.json"))
	c := newAPIClient(t, sock)
	c.waitReady(p)
	c.ok("PUT", "/logger", fmt.Sprintf(`{"log_path": %q, "level": "Debug"}`, filepath.Join(dir, "vmm.log")))
	c.ok("PUT", "/metrics", fmt.Sprintf(`{"metrics_path": %q}`, filepath.Join(dir, "metrics.json")))
	c.ok("PUT", "/boot-source", fmt.Sprintf(`{"kernel_image_path": %q, "boot_args": "test=blk_rw,ctrlaltdel"}`, tiny))
	c.ok("PUT", "/drives/data", fmt.Sprintf(`{"drive_id": "data", "path_on_host": %q, "is_root_device": false, "is_read_only": false}`, rw))
	c.ok("PUT", "/actions", `{"action_type": "InstanceStart"}`)
	waitUntil(t, "the log", fileText(filepath.Join(dir, "vmm.log")), "sandbox installed")
	waitUntil(t, "the console", p.stdout.String, "ctrlaltdel: waiting")
	c.state()
	c.refused("PATCH", "/drives/data", fmt.Sprintf(`{"drive_id": "data", "path_on_host": %q}`, ro), "--seccomp=off --landlock=false")
	c.ok("PUT", "/actions", `{"action_type": "FlushMetrics"}`)
	c.ok("PUT", "/actions", `{"action_type": "SendCtrlAltDel"}`)
	finish("api", p)
	// On a terminal (raw mode in and out, window size): through script(1).
	if script, err := exec.LookPath("script"); err != nil {
		t.Log("script(1) is not installed: the terminal run is left out")
	} else {
		pidFile := filepath.Join(dir, "tty.pid")
		sh := fmt.Sprintf(`echo $$ > %s; exec %s run --seccomp=log --kernel %s --test-exit --cmdline test=all`, pidFile, bin, tiny)
		out, err := exec.Command(script, "-qec", "sh -c '"+sh+"'", "/dev/null").CombinedOutput()
		if err != nil {
			t.Fatalf("terminal run: %v\n%s", err, tail(string(out), 30))
		}
		b, err := os.ReadFile(pidFile)
		pid, perr := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil || perr != nil {
			t.Fatalf("terminal run's pid: %v %v", err, perr)
		}
		runs = append(runs, run{"terminal", pid})
	}
	// A stop by signal.
	p = startProgram(t, bin, append(common, "--cmdline", "test=ctrlaltdel")...)
	waitUntil(t, "the console", p.stdout.String, "ctrlaltdel: waiting")
	p.signal(t, syscall.SIGTERM)
	finish("SIGTERM", p)

	// The barrier: once the probe's record is in the log, every record
	// logged for the runs above is too.
	// The kernel may drop the probe's record under its printk rate limit:
	// run it again after the window.
	probeBin := helperBinary(t)
	var probeLogged bool
	var probePid int
	for attempt := 0; attempt < 4 && !probeLogged; attempt++ {
		probe := exec.Command(probeBin, "-test.run=^TestSeccompProbeHelper$")
		probe.Env = append(os.Environ(), "VMM_SECCOMP_PROBE=1")
		if out, err := probe.CombinedOutput(); err != nil {
			t.Fatalf("probe: %v\n%s", err, out)
		}
		probePid = probe.Process.Pid
		_, probeLogged = klog.WaitFor(t, probePid, testutil.RateLimitWindow)
	}
	for _, r := range runs {
		nrs, err := klog.For(r.pid)
		if err != nil {
			t.Fatal(err)
		}
		if len(nrs) > 0 {
			t.Errorf("%s: the kernel logged system calls %s for vmm (pid %d): add them to vmm/sandbox/seccomp.go with who needs them, and to docs/security.md",
				r.name, syscallNames(nrs), r.pid)
		}
	}
	if !probeLogged {
		t.Errorf("the kernel log never showed the probe's record (last pid %d): records were dropped, as when vmm makes a missing call very often", probePid)
	}
}

// Under the default sandbox, PATCH /drives with a new image is refused
// with the reason and the fix, the guest runs on, and --result-json says
// what the sandbox installed.
func TestSandboxRefusesDriveUpdate(t *testing.T) {
	needKVM(t)
	dir := t.TempDir()
	sock, result := filepath.Join(dir, "api.sock"), filepath.Join(dir, "result.json")
	a, b := sparseImage(t, "a.img", 1<<20), sparseImage(t, "b.img", 2<<20)
	p := startVMM(t, "run", "--api-sock", sock, "--test-exit", "--result-json", result)
	c := newAPIClient(t, sock)
	c.waitReady(p)
	c.ok("PUT", "/boot-source", fmt.Sprintf(`{"kernel_image_path": %q, "boot_args": "test=ctrlaltdel"}`, tinyKernelPath(t)))
	c.ok("PUT", "/drives/data", fmt.Sprintf(`{"drive_id": "data", "path_on_host": %q, "is_root_device": false, "is_read_only": false}`, a))
	c.ok("PUT", "/actions", `{"action_type": "InstanceStart"}`)
	waitUntil(t, "vmm's output", p.stdout.String, "ctrlaltdel: waiting")
	c.refused("PATCH", "/drives/data", fmt.Sprintf(`{"drive_id": "data", "path_on_host": %q}`, b),
		"the sandbox forbids opening a new file once the VM runs")
	c.refused("PATCH", "/drives/data", fmt.Sprintf(`{"drive_id": "data", "path_on_host": %q}`, b), "--seccomp=off --landlock=false")
	c.ok("PUT", "/actions", `{"action_type": "SendCtrlAltDel"}`)
	if code := p.wait(t); code != 0 {
		t.Fatalf("exit %d\nstderr:\n%s", code, p.stderr.String())
	}
	res := readResult(t, result)
	sb, _ := res["sandbox"].(map[string]any)
	if sb["seccomp"] != "kill" || sb["seccomp_syscalls"].(float64) == 0 {
		t.Errorf("result's sandbox %v, want seccomp kill with its allow list", res["sandbox"])
	}
	disks, _ := res["disks"].([]any)
	if len(disks) != 1 || disks[0].(map[string]any)["updates"] != 0.0 {
		t.Errorf("result disks %v, want the one drive never updated", disks)
	}
}

// syscallNames names each distinct number in nrs ("ppoll (271)").
func syscallNames(nrs []string) string {
	var out []string
	for _, n := range slices.Compact(slices.Sorted(slices.Values(nrs))) {
		nr, _ := strconv.Atoi(n)
		out = append(out, fmt.Sprintf("%s (%d)", arch.X86_64.SyscallNumbers[nr], nr))
	}
	return strings.Join(out, ", ")
}

// Bad sandbox flags are usage errors (exit 2) with one line naming the
// problem and the fix, before anything runs.
func TestSandboxFlagErrors(t *testing.T) {
	bin := helperBinary(t)
	cases := []struct {
		args   []string
		prefix []string
		want   string
	}{
		{[]string{"--seccomp=strict"}, nil, `--seccomp "strict": use kill, log, off`},
		{[]string{"--uid", "-5"}, nil, "--uid -5 is out of range: give 0 to 4294967294, or -1"},
		{[]string{"--gid", "4294967295"}, nil, "--gid 4294967295 is out of range"},
		{[]string{"--uid", "65534"}, nil, "--uid and --gid go together: give both"},
		{[]string{"--gid", "65534"}, nil, "--uid and --gid go together: give both"},
	}
	if os.Geteuid() == 0 {
		if setpriv, err := exec.LookPath("setpriv"); err == nil {
			cases = append(cases, struct {
				args   []string
				prefix []string
				want   string
			}{[]string{"--uid", "1000"}, []string{setpriv, "--reuid=65534", "--regid=65534", "--clear-groups"},
				"--uid needs vmm to start as root (it runs as uid 65534, which cannot change ids): leave --uid out"})
		}
	}
	for _, tc := range cases {
		out, errOut, code := runVMM(t, bin, tc.prefix, append([]string{"run", "--test-exit"}, tc.args...)...)
		if code != 2 || strings.Count(errOut, "\n") != 1 || !strings.Contains(errOut, tc.want) {
			t.Errorf("vmm run %v: exit %d, stderr %q (stdout %q); want exit 2 and one line with %q", tc.args, code, errOut, out, tc.want)
		}
	}
}

// --result-json is opened before the sandbox: from the moment the guest
// runs the file exists and is empty (a stale document is gone), and the
// document is written through that descriptor at exit. A symbolic link is
// refused before anything runs.
func TestResultJSONOpenedBeforeTheGuest(t *testing.T) {
	needKVM(t)
	dir := t.TempDir()
	result := filepath.Join(dir, "result.json")
	if err := os.WriteFile(result, []byte(`{"stale": true}`), 0o600); err != nil {
		t.Fatal(err)
	}
	p := startVMM(t, "run", "--kernel", tinyKernelPath(t), "--test-exit", "--cmdline", "test=ctrlaltdel", "--result-json", result)
	waitUntil(t, "vmm's output", p.stdout.String, "ctrlaltdel: waiting")
	if fi, err := os.Stat(result); err != nil || fi.Size() != 0 || fi.Mode().Perm() != 0o644 {
		t.Fatalf("while the guest runs, --result-json is %v (%v); want an empty file, mode 0644", fi, err)
	}
	p.signal(t, syscall.SIGTERM)
	if code := p.wait(t); code != 0 {
		t.Fatalf("exit %d:\n%s", code, p.stderr.String())
	}
	res := readResult(t, result)
	if res["reason"] != "signal" || res["stale"] != nil || res["sandbox"] == nil {
		t.Errorf("result %v", res)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("files beside the result: %v, want only result.json", entries)
	}

	link := filepath.Join(dir, "link.json")
	if err := os.Symlink(result, link); err != nil {
		t.Fatal(err)
	}
	_, errOut, code := runVMM(t, helperBinary(t), nil, "run", "--kernel", tinyKernelPath(t), "--result-json", link)
	if code != 2 || !strings.Contains(errOut, "is a symbolic link") {
		t.Errorf("--result-json on a symlink: exit %d, stderr %q; want exit 2 naming the link", code, errOut)
	}
}

// --uid/--gid drop the ids after the disks are open: the guest still
// writes to an image only root may open, and the result reports the ids
// the VMM ran as.
func TestRunDropsToUIDAndGID(t *testing.T) {
	needKVM(t)
	if os.Geteuid() != 0 {
		t.Skip("dropping ids needs vmm to start as root; this test runs as uid " + strconv.Itoa(os.Geteuid()))
	}
	img := sparseImage(t, "root-only.img", 16<<20)
	if err := os.Chmod(img, 0o600); err != nil {
		t.Fatal(err)
	}
	result := filepath.Join(t.TempDir(), "result.json")
	out, errOut, code := runVMM(t, helperBinary(t), nil, "run", "--kernel", tinyKernelPath(t), "--test-exit", "--console", "none",
		"--cmdline", "test=blk_rw", "--disk", img+",id=data", "--uid", "65534", "--gid", "65534", "--result-json", result)
	if code != 0 {
		t.Fatalf("exit %d:\n%s%s", code, out, errOut)
	}
	sb, _ := readResult(t, result)["sandbox"].(map[string]any)
	if sb["uid"] != 65534.0 || sb["gid"] != 65534.0 || sb["seccomp"] != "kill" {
		t.Errorf("result's sandbox %v, want uid and gid 65534 under seccomp kill", sb)
	}
}

// vmm as shipped (no cgo, sandbox on by default) runs the guest with no
// capability in any thread's bounding, permitted or effective set.
func TestRunningVMMHoldsNoCapabilities(t *testing.T) {
	needKVM(t)
	if os.Geteuid() != 0 {
		t.Skip("the bounding set can only be emptied with CAP_SETPCAP; this test runs as uid " + strconv.Itoa(os.Geteuid()))
	}
	bin := buildVMM(t)
	p := startProgram(t, bin, "run", "--kernel", tinyKernelPath(t), "--test-exit", "--cmdline", "test=ctrlaltdel")
	waitUntil(t, "the console", p.stdout.String, "ctrlaltdel: waiting")
	pid := p.cmd.Process.Pid
	bounding := func() string {
		tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
		if err != nil {
			return err.Error()
		}
		var left []string
		for _, task := range tasks {
			b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/status", pid, task.Name()))
			if err != nil {
				continue // the thread ended
			}
			for _, line := range strings.Split(string(b), "\n") {
				for _, set := range []string{"CapBnd:", "CapPrm:", "CapEff:"} {
					if v, ok := strings.CutPrefix(line, set); ok && strings.Trim(strings.TrimSpace(v), "0") != "" {
						left = append(left, task.Name()+" "+set+strings.TrimSpace(v))
					}
				}
			}
		}
		if len(tasks) == 0 {
			return "no threads"
		}
		if len(left) == 0 {
			return "empty"
		}
		return strings.Join(left, " ")
	}
	waitUntil(t, "every thread's capability sets", func() string { return bounding() + "\n" + p.stderr.String() }, "empty")
	p.signal(t, syscall.SIGTERM)
	if code := p.wait(t); code != 0 {
		t.Fatalf("exit %d:\n%s", code, p.stderr.String())
	}
	if strings.Contains(p.stderr.String(), "bounding set") {
		t.Errorf("stderr: %s", p.stderr.String())
	}
}
