package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// haltKernel is a guest that halts for good with interrupts off: it only
// ends when vmm stops it.
func haltKernel(t *testing.T) string {
	return writeFile(t, "halt.elf", pvhELF([]byte{0xfa, 0xf4, 0xeb, 0xfd}, 0)) // cli; hlt; jmp .-1
}

// TestAPIGettingStarted boots the tiny kernel entirely through the API
// socket, with the request sequence of Firecracker's getting-started
// guide (logger, boot source, root drive, machine configuration, metrics,
// InstanceStart), then drives the running guest: a new image behind its
// root drive (PATCH /drives, so with the sandbox off), FlushMetrics, and
// Ctrl-Alt-Del.
func TestAPIGettingStarted(t *testing.T) {
	needKVM(t)
	dir := t.TempDir()
	sock := filepath.Join(dir, "firecracker.socket")
	logPath, metricsPath := filepath.Join(dir, "vmm.log"), filepath.Join(dir, "metrics.json")
	result, console := filepath.Join(dir, "result.json"), filepath.Join(dir, "console.log")
	rootA := writeImage(t, "a.ext4", 1<<20, func(int) byte { return 'A' })
	rootB := writeImage(t, "b.ext4", 2<<20, func(i int) byte {
		if i >= 2<<20-512 {
			return 'C'
		}
		return 'B'
	})
	// PATCH /drives with a new image opens it: only without the sandbox
	// (TestSandboxRefusesDriveUpdate has the refusal).
	p := startVMM(t, "run", "--api-sock", sock, "--test-exit", "--console", "file:"+console, "--result-json", result,
		"--seccomp=off", "--landlock=false")
	c := newAPIClient(t, sock)
	c.waitReady(p)
	if c.curl == "" {
		t.Log("curl is not installed: requests go through Go's HTTP client")
	}
	if fi, err := os.Stat(sock); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("socket mode %v (%v), want 0600", fi.Mode(), err)
	}
	if s := c.state(); s != "Not started" {
		t.Fatalf("state %q before InstanceStart", s)
	}
	c.ok("PUT", "/logger", fmt.Sprintf(`{"log_path": %q, "level": "Debug", "show_level": true, "show_log_origin": true}`, logPath))
	c.ok("PUT", "/boot-source", fmt.Sprintf(`{"kernel_image_path": %q, "boot_args": "test=cmdline,blk_resize,ctrlaltdel"}`, tinyKernelPath(t)))
	c.ok("PUT", "/drives/rootfs", fmt.Sprintf(`{"drive_id": "rootfs", "path_on_host": %q, "is_root_device": true, "is_read_only": false}`, rootA))
	c.ok("PUT", "/machine-config", `{"vcpu_count": 2, "mem_size_mib": 128}`)
	c.ok("PUT", "/metrics", fmt.Sprintf(`{"metrics_path": %q}`, metricsPath))
	c.ok("PUT", "/actions", `{"action_type": "InstanceStart"}`)
	if s := c.state(); s != "Running" {
		t.Fatalf("state %q after InstanceStart", s)
	}
	_, cfg := c.do("GET", "/vm/config", "")
	if !strings.Contains(cfg, `"drive_id":"rootfs"`) || !strings.Contains(cfg, `"vcpu_count":2`) {
		t.Errorf("GET /vm/config: %s", cfg)
	}

	waitUntil(t, "the console", fileText(console), "waiting for a configuration change")
	c.ok("PATCH", "/drives/rootfs", fmt.Sprintf(`{"drive_id": "rootfs", "path_on_host": %q}`, rootB))
	waitUntil(t, "the console", fileText(console), "ctrlaltdel: waiting")
	c.ok("PUT", "/actions", `{"action_type": "FlushMetrics"}`)
	c.ok("PUT", "/actions", `{"action_type": "SendCtrlAltDel"}`)
	if code := p.wait(t); code != 0 {
		t.Fatalf("exit %d\nstderr:\n%s\nconsole:\n%s", code, p.stderr.String(), fileText(console)())
	}

	out := fileText(console)()
	for _, want := range []string{"root=/dev/vda rw", "blk_resize: 2048 -> 4096 sectors", "last sector begins 43 43 43 43",
		"PASS blk_resize", "PASS ctrlaltdel", "tiny: 3 passed, 0 failed"} {
		if !strings.Contains(out, want) {
			t.Errorf("console lacks %q:\n%s", want, out)
		}
	}
	if _, err := os.Stat(sock); !os.IsNotExist(err) {
		t.Errorf("the socket is still there after exit (%v)", err)
	}
	if log := fileText(logPath)(); !strings.Contains(log, "level=debug") || !strings.Contains(log, "API request") {
		t.Errorf("the log file lacks the debug lines:\n%.2000s", log)
	}
	res := readResult(t, result)
	if res["status"] != 0.0 || res["reason"] != "test-exit" || res["test_exit_value"] != 0.0 || res["started"] != true {
		t.Errorf("result %v", res)
	}
	disks, _ := res["disks"].([]any)
	if len(disks) != 1 || disks[0].(map[string]any)["id"] != "rootfs" || disks[0].(map[string]any)["updates"] != 1.0 {
		t.Errorf("result disks %v", disks)
	}
	// Metrics: the FlushMetrics line and the last one at exit; the
	// patched drive's update is counted once across them.
	lines := metricLines(t, metricsPath)
	if len(lines) < 2 {
		t.Fatalf("%d metrics lines, want the flush and the final one", len(lines))
	}
	var updates, exits, reads float64
	for _, l := range lines {
		updates += l["block_rootfs"].(map[string]any)["update_count"].(float64)
		reads += l["block"].(map[string]any)["read_count"].(float64)
		exits += l["vcpu"].(map[string]any)["exit_mmio_write"].(float64)
	}
	if updates != 1 || reads == 0 || exits == 0 {
		t.Errorf("metrics: %v updates, %v reads, %v MMIO writes; lines %v", updates, reads, exits, lines)
	}
}

func metricLines(t *testing.T, path string) []map[string]any {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []map[string]any
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("metrics line %q: %v", sc.Text(), err)
		}
		out = append(out, m)
	}
	return out
}

// TestAPIRefusals: requests the real machine refuses leave the instance
// as it was, and it starts once the configuration is fixed; after the
// start, pre-boot requests are refused by state; SIGTERM ends it.
func TestAPIRefusals(t *testing.T) {
	needKVM(t)
	dir := t.TempDir()
	sock, result := filepath.Join(dir, "api.sock"), filepath.Join(dir, "result.json")
	img := writeImage(t, "disk.img", 1<<20, func(int) byte { return 0 })
	p := startVMM(t, "run", "--api-sock", sock, "--console", "none", "--result-json", result, "--log-level", "info")
	c := newAPIClient(t, sock)
	c.waitReady(p)
	c.refused("PUT", "/actions", `{"action_type": "InstanceStart"}`, "no boot source")
	c.ok("PUT", "/boot-source", fmt.Sprintf(`{"kernel_image_path": %q}`, filepath.Join(dir, "missing.elf")))
	c.refused("PUT", "/actions", `{"action_type": "InstanceStart"}`, "missing.elf does not exist")
	c.ok("PUT", "/boot-source", fmt.Sprintf(`{"kernel_image_path": %q}`, haltKernel(t)))
	c.ok("PUT", "/drives/data", fmt.Sprintf(`{"drive_id": "data", "path_on_host": %q, "is_root_device": false}`, filepath.Join(dir, "none.img")))
	c.refused("PUT", "/actions", `{"action_type": "InstanceStart"}`, "none.img does not exist")
	c.ok("PUT", "/machine-config", `{"vcpu_count": 1, "mem_size_mib": 64}`)
	c.refused("PUT", "/machine-config", `{"vcpu_count": 1, "mem_size_mib": 8}`, "too small")
	c.refused("PUT", "/actions", `{"action_type": "SendCtrlAltDel"}`, "while the VM is Not started")
	c.refused("PATCH", "/drives/data", `{"drive_id": "data", "path_on_host": "/x"}`, "while the VM is Not started")
	if s := c.state(); s != "Not started" {
		t.Fatalf("state %q after refused starts", s)
	}
	c.ok("PUT", "/drives/data", fmt.Sprintf(`{"drive_id": "data", "path_on_host": %q, "is_root_device": false}`, img))
	c.ok("PUT", "/actions", `{"action_type": "InstanceStart"}`)
	if s := c.state(); s != "Running" {
		t.Fatalf("state %q", s)
	}
	c.refused("PUT", "/actions", `{"action_type": "InstanceStart"}`, "while the VM is Running")
	c.refused("PUT", "/boot-source", `{"kernel_image_path": "/k"}`, "while the VM is Running")
	c.refused("PUT", "/drives/data", `{"drive_id": "data", "path_on_host": "/x", "is_root_device": false}`, "while the VM is Running")
	// The sandbox is on: a new image cannot be opened, whether or not it
	// exists (vmm/disk_update_test.go has the missing-file answer).
	c.refused("PATCH", "/drives/data", fmt.Sprintf(`{"drive_id": "data", "path_on_host": %q}`, filepath.Join(dir, "gone.img")), "--seccomp=off --landlock=false")
	c.refused("PATCH", "/drives/other", `{"drive_id": "other", "path_on_host": "/x"}`, `no drive "other"`)
	c.refused("PUT", "/actions", `{"action_type": "FlushMetrics"}`, "no metrics are configured")
	// Clients that connect and say nothing, send half a request, or hang
	// up mid-body cost the VM nothing.
	var conns []net.Conn
	for i := 0; i < 150; i++ {
		conn, err := net.Dial("unix", sock)
		if err != nil {
			break // the backlog is full: flooded enough
		}
		if i%2 == 1 {
			fmt.Fprintf(conn, "PUT /drives/data HTTP/1.1\r\nHost: x\r\nContent-Length: 500\r\n\r\n{\"drive_id\"")
		}
		conns = append(conns, conn)
	}
	for _, conn := range conns {
		conn.Close()
	}
	if s := c.state(); s != "Running" {
		t.Fatalf("state %q after the flood", s)
	}
	// The guest halts with interrupts off: Ctrl-Alt-Del reaches the
	// keyboard and is simply never read.
	c.ok("PUT", "/actions", `{"action_type": "SendCtrlAltDel"}`)
	p.signal(t, syscall.SIGTERM)
	if code := p.wait(t); code != 0 {
		t.Fatalf("exit %d:\n%s", code, p.stderr.String())
	}
	if res := readResult(t, result); res["reason"] != "signal" || res["signal"] != "terminated" || res["status"] != 0.0 {
		t.Errorf("result %v", res)
	}
}

// TestAPIWaitEnds: a vmm waiting for InstanceStart ends on --timeout
// (status 124) or on a signal (status 0), writes its result, and removes
// its socket.
func TestAPIWaitEnds(t *testing.T) {
	needKVM(t)
	for _, c := range []struct {
		name   string
		args   []string
		sig    syscall.Signal
		code   int
		reason string
	}{
		{"timeout", []string{"--timeout", "1s"}, 0, exitTimeout, "timeout"},
		{"signal", nil, syscall.SIGINT, 0, "signal"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			sock, result := filepath.Join(dir, "api.sock"), filepath.Join(dir, "result.json")
			p := startVMM(t, append([]string{"run", "--api-sock", sock, "--result-json", result}, c.args...)...)
			newAPIClient(t, sock).waitReady(p)
			if c.sig != 0 {
				p.signal(t, c.sig)
			}
			if code := p.wait(t); code != c.code {
				t.Fatalf("exit %d, want %d:\n%s", code, c.code, p.stderr.String())
			}
			res := readResult(t, result)
			if res["reason"] != c.reason || res["status"] != float64(c.code) || res["started"] != false || res["first_kvm_run_ms"] != nil {
				t.Errorf("result %v", res)
			}
			if _, err := os.Stat(sock); !os.IsNotExist(err) {
				t.Errorf("socket left behind (%v)", err)
			}
		})
	}
}

// TestAPISocketChecks: a socket another vmm serves on is refused; a file
// that is not a socket is refused and left alone.
func TestAPISocketChecks(t *testing.T) {
	needKVM(t)
	dir := t.TempDir()
	sock := filepath.Join(dir, "api.sock")
	first := startVMM(t, "run", "--api-sock", sock)
	newAPIClient(t, sock).waitReady(first)
	_, stderr, code := runVMM(t, helperBinary(t), nil, "run", "--api-sock", sock)
	if code != 1 || !strings.Contains(stderr, "is in use") {
		t.Errorf("second vmm on a live socket: exit %d, %s", code, stderr)
	}
	first.signal(t, syscall.SIGTERM)
	first.wait(t)
	file := writeFile(t, "not-a-socket", []byte("keep"))
	_, stderr, code = runVMM(t, helperBinary(t), nil, "run", "--api-sock", file)
	if code != 1 || !strings.Contains(stderr, "is not a socket") || fileText(file)() != "keep" {
		t.Errorf("regular file: exit %d, %s", code, stderr)
	}
}

// TestAPIWithConfigFile: --config-file with --api-sock starts the VM at
// once; the API reports it Running and refuses a second start.
func TestAPIWithConfigFile(t *testing.T) {
	needKVM(t)
	dir := t.TempDir()
	sock := filepath.Join(dir, "api.sock")
	cfg := writeFile(t, "vm.json", []byte(fmt.Sprintf(`{"boot-source": {"kernel_image_path": %q}, "machine-config": {"vcpu_count": 2, "mem_size_mib": 64}}`, haltKernel(t))))
	p := startVMM(t, "run", "--api-sock", sock, "--config-file", cfg, "--console", "none")
	c := newAPIClient(t, sock)
	c.waitReady(p)
	if s := c.state(); s != "Running" {
		t.Fatalf("state %q", s)
	}
	c.refused("PUT", "/actions", `{"action_type": "InstanceStart"}`, "while the VM is Running")
	if code, body := c.do("GET", "/machine-config", ""); code != 200 || !strings.Contains(body, `"vcpu_count":2,"mem_size_mib":64`) {
		t.Errorf("GET /machine-config: %d %s", code, body)
	}
	p.signal(t, syscall.SIGTERM)
	if code := p.wait(t); code != 0 {
		t.Fatalf("exit %d:\n%s", code, p.stderr.String())
	}
	if strings.Contains(p.stderr.String(), "directory of its own") {
		t.Errorf("a socket alone in its directory got the shared-directory warning:\n%s", p.stderr.String())
	}
}

// Landlock can only let vmm remove the API socket by letting it remove
// anything in the socket's directory: a shared directory gets a warning
// (and the neighbour survives the run).
func TestAPISocketSharedDirectoryWarns(t *testing.T) {
	needKVM(t)
	dir := t.TempDir()
	neighbour := filepath.Join(dir, "neighbour")
	if err := os.WriteFile(neighbour, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "api.sock")
	cfg := writeFile(t, "vm.json", []byte(fmt.Sprintf(`{"boot-source": {"kernel_image_path": %q}, "machine-config": {"vcpu_count": 1, "mem_size_mib": 64}}`, haltKernel(t))))
	p := startVMM(t, "run", "--api-sock", sock, "--config-file", cfg, "--console", "none")
	c := newAPIClient(t, sock)
	c.waitReady(p)
	p.signal(t, syscall.SIGTERM)
	if code := p.wait(t); code != 0 {
		t.Fatalf("exit %d:\n%s", code, p.stderr.String())
	}
	if want := "give --api-sock a directory of its own"; !strings.Contains(p.stderr.String(), want) || strings.Count(p.stderr.String(), want) != 1 {
		t.Errorf("stderr lacks one warning %q:\n%s", want, p.stderr.String())
	}
	if _, err := os.Stat(neighbour); err != nil {
		t.Errorf("the neighbour: %v", err)
	}
	if _, err := os.Stat(sock); !os.IsNotExist(err) {
		t.Errorf("the socket after exit: %v", err)
	}
}
