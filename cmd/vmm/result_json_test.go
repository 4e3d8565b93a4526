package main

import (
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestResultJSONOnEveryExitPath runs vmm once per way a run can end and
// checks the document --result-json leaves: status (the process's own),
// reason, the reason's details, and the timings.
func TestResultJSONOnEveryExitPath(t *testing.T) {
	needKVM(t)
	bin := helperBinary(t)
	tiny := tinyKernelPath(t)
	// lidt of a zero-limit IDT, then ud2: a triple fault at a known RIP.
	tripleFault := writeFile(t, "tf.elf", pvhELF([]byte{0x0f, 0x01, 0x1d, 0x10, 0x00, 0x10, 0x00, 0x0f, 0x0b, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, 0))
	disk := writeImage(t, "disk.img", 8<<20, func(i int) byte { return byte(i) })
	cases := []struct {
		name   string
		args   []string
		status int
		reason string
		check  func(t *testing.T, r map[string]any)
	}{
		{"guest reset", []string{"--kernel", tiny, "--cmdline", "test=serial"}, 0, "reset", nil},
		{"test-exit pass", []string{"--kernel", tiny, "--cmdline", "test=serial", "--test-exit"}, 0, "test-exit",
			func(t *testing.T, r map[string]any) { want(t, r, "test_exit_value", 0.0) }},
		{"test-exit failure", []string{"--kernel", tiny, "--cmdline", "test=fail", "--test-exit"}, 3, "test-exit",
			func(t *testing.T, r map[string]any) { want(t, r, "test_exit_value", 1.0) }},
		{"crash", []string{"--kernel", tripleFault}, 1, "crash", func(t *testing.T, r map[string]any) {
			crash, _ := r["crash"].(map[string]any)
			if crash == nil || crash["vcpu"] != 0.0 || !regexp.MustCompile(`^0x[0-9a-f]+$`).MatchString(crash["rip"].(string)) ||
				!strings.Contains(crash["summary"].(string), "triple-faulted") {
				t.Errorf("crash %v", r["crash"])
			}
			if !strings.Contains(r["message"].(string), "RIP") {
				t.Errorf("message %q", r["message"])
			}
		}},
		{"timeout", []string{"--kernel", haltKernel(t), "--timeout", "1500ms"}, exitTimeout, "timeout",
			func(t *testing.T, r map[string]any) { want(t, r, "timeout_ms", 1500.0) }},
		{"usage error", []string{"--mem", "lots"}, 2, "usage", func(t *testing.T, r map[string]any) {
			want(t, r, "started", false)
			want(t, r, "first_kvm_run_ms", nil)
			if !strings.Contains(r["message"].(string), "--mem") {
				t.Errorf("message %q", r["message"])
			}
		}},
		{"runtime error before the VM", []string{"--kernel", filepath.Join(t.TempDir(), "none.elf")}, 1, "error",
			func(t *testing.T, r map[string]any) {
				want(t, r, "started", false)
				if !strings.Contains(r["message"].(string), "does not exist") {
					t.Errorf("message %q", r["message"])
				}
			}},
		{"disk counters", []string{"--kernel", tiny, "--cmdline", "test=blk_rw", "--test-exit", "--disk", disk + ",id=data"}, 0, "test-exit",
			func(t *testing.T, r map[string]any) {
				disks, _ := r["disks"].([]any)
				if len(disks) != 1 {
					t.Fatalf("disks %v", r["disks"])
				}
				d := disks[0].(map[string]any)
				if d["id"] != "data" || d["path"] != disk || d["reads"].(float64) == 0 || d["writes"].(float64) == 0 ||
					d["bytes_written"].(float64) == 0 || d["io_errors"] != 0.0 {
					t.Errorf("disk %v", d)
				}
				if r["exits"].(map[string]any)["exit_mmio_write"].(float64) == 0 {
					t.Errorf("exits %v", r["exits"])
				}
			}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "result.json")
			_, stderr, code := runVMM(t, bin, nil, append([]string{"run", "--console", "none", "--result-json", path}, c.args...)...)
			if code != c.status {
				t.Fatalf("exit %d, want %d:\n%s", code, c.status, stderr)
			}
			r := readResult(t, path)
			want(t, r, "status", float64(c.status))
			want(t, r, "reason", c.reason)
			if started, _ := r["started"].(bool); started {
				first, _ := r["first_kvm_run_ms"].(float64)
				if first <= 0 || first > r["exit_ms"].(float64) {
					t.Errorf("first KVM_RUN at %v ms, exit at %v ms", r["first_kvm_run_ms"], r["exit_ms"])
				}
			}
			if r["vmm_version"] == nil || r["repairs"] == nil {
				t.Errorf("result %v lacks vmm_version or repairs", r)
			}
			if c.check != nil {
				c.check(t, r)
			}
		})
	}
}

// TestResultJSONSignal: a VM stopped by a signal records which one.
func TestResultJSONSignal(t *testing.T) {
	needKVM(t)
	path := filepath.Join(t.TempDir(), "result.json")
	p := startVMM(t, "run", "--kernel", haltKernel(t), "--console", "none", "--result-json", path, "--log-level", "info")
	waitUntil(t, "stderr", p.stderr.String, "guest loaded")
	time.Sleep(100 * time.Millisecond) // into KVM_RUN; the signal would stop it just as well before
	p.signal(t, syscall.SIGINT)
	if code := p.wait(t); code != 0 {
		t.Fatalf("exit %d:\n%s", code, p.stderr.String())
	}
	r := readResult(t, path)
	want(t, r, "reason", "signal")
	want(t, r, "signal", "interrupt")
	want(t, r, "started", true)
}

// TestResultJSONBadPath: a path that can never be written is a usage
// error before anything runs.
func TestResultJSONBadPath(t *testing.T) {
	needKVM(t)
	dir := t.TempDir()
	for path, msg := range map[string]string{
		filepath.Join(dir, "no", "r.json"): "does not exist",
		dir:                                "is a directory",
	} {
		_, stderr, code := runVMM(t, helperBinary(t), nil, "run", "--result-json", path)
		if code != 2 || !strings.Contains(stderr, msg) {
			t.Errorf("%s: exit %d, %s", path, code, stderr)
		}
	}
}

func want(t *testing.T, r map[string]any, key string, v any) {
	t.Helper()
	if r[key] != v {
		t.Errorf("%s = %#v, want %#v (result %v)", key, r[key], v, r)
	}
}
