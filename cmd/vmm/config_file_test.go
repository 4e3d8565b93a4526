package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestConfigFileBootsTinyKernel: a Firecracker-format file with a root
// drive, logger and metrics boots the tiny kernel: the root device is
// vda and on the command line, the disk works, and metrics land in the
// file.
func TestConfigFileBootsTinyKernel(t *testing.T) {
	needKVM(t)
	dir := t.TempDir()
	img := writeImage(t, "root.img", 8<<20, func(i int) byte { return byte(i) })
	metrics, logPath := filepath.Join(dir, "metrics.json"), filepath.Join(dir, "vmm.log")
	cfg := writeFile(t, "vm.json", []byte(fmt.Sprintf(`{
  "boot-source": {"kernel_image_path": %q, "boot_args": "test=cmdline,blk_rw", "initrd_path": null},
  "drives": [{"drive_id": "rootfs", "path_on_host": %q, "is_root_device": true, "is_read_only": false,
              "cache_type": "Writeback", "io_engine": "Async", "partuuid": null, "rate_limiter": null}],
  "machine-config": {"vcpu_count": 2, "mem_size_mib": 128, "smt": false},
  "logger": {"log_path": %q, "level": "Info"},
  "metrics": {"metrics_path": %q},
  "network-interfaces": [], "vsock": null, "balloon": null
}`, tinyKernelPath(t), img, logPath, metrics)))
	out, stderr, code := runVMM(t, helperBinary(t), nil, "run", "--config-file", cfg, "--test-exit")
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, stderr)
	}
	for _, want := range []string{"cmdline: test=cmdline,blk_rw root=/dev/vda rw virtio_mmio.device=", "PASS blk_rw", "tiny: 2 passed, 0 failed"} {
		if !strings.Contains(out, want) {
			t.Errorf("console lacks %q:\n%s", want, out)
		}
	}
	if !strings.Contains(fileText(logPath)(), "guest loaded") {
		t.Errorf("the logger's file lacks the info lines: %q", fileText(logPath)())
	}
	lines := metricLines(t, metrics)
	if len(lines) == 0 {
		t.Fatal("no metrics line at exit")
	}
	last := lines[len(lines)-1]
	if last["block_rootfs"].(map[string]any)["write_count"].(float64) == 0 || last["vcpu"].(map[string]any)["exit_io_out"].(float64) == 0 {
		t.Errorf("last metrics line %v", last)
	}
}

// TestFirecrackerExampleConfigBoots: our copy of the layout of
// Firecracker's example configuration boots with only its paths changed.
func TestFirecrackerExampleConfigBoots(t *testing.T) {
	needKVM(t)
	example, err := os.ReadFile("../../vmm/fcconfig/testdata/firecracker-example.json")
	if err != nil {
		t.Fatal(err)
	}
	img := writeImage(t, "rootfs.ext4", 1<<20, func(int) byte { return 0 })
	doc := strings.NewReplacer(`"vmlinux.bin"`, fmt.Sprintf("%q", tinyKernelPath(t)), `"rootfs.ext4"`, fmt.Sprintf("%q", img)).Replace(string(example))
	out, stderr, code := runVMM(t, helperBinary(t), nil, "run", "--config-file", writeFile(t, "vm_config.json", []byte(doc)))
	if code != 0 || !strings.Contains(out, "vmm tiny kernel: booted on 2 vCPUs, 1024 MiB") || !strings.Contains(out, "PASS smp") {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, stderr)
	}
}

// TestConfigFileFlagsOverride: flags given with the file win over it.
func TestConfigFileFlagsOverride(t *testing.T) {
	needKVM(t)
	cfg := writeFile(t, "vm.json", []byte(`{"boot-source": {"kernel_image_path": "/nonexistent", "boot_args": "test=smp"},
  "machine-config": {"vcpu_count": 4, "mem_size_mib": 512}}`))
	out, stderr, code := runVMM(t, helperBinary(t), nil, "run", "--config-file", cfg, "--kernel", tinyKernelPath(t),
		"--cpus", "1", "--mem", "64M", "--cmdline", "test=fwcfg", "--test-exit")
	if code != 0 || !strings.Contains(out, "fwcfg: 1 CPUs") || !strings.Contains(out, " 64 MiB RAM") {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, stderr)
	}
}

// TestConfigFileErrors: each mistake is one line naming the file and the
// key, exit 2, and nothing runs or is created.
func TestConfigFileErrors(t *testing.T) {
	needKVM(t)
	bin := helperBinary(t)
	dir := t.TempDir()
	kernel := tinyKernelPath(t)
	console := filepath.Join(dir, "never.log")
	file := func(name, doc string) string { return writeFile(t, name, []byte(doc)) }
	boot := fmt.Sprintf(`"boot-source": {"kernel_image_path": %q}`, kernel)
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"missing file", []string{"--config-file", filepath.Join(dir, "none.json")}, "does not exist"},
		{"unknown key", []string{"--config-file", file("a.json", `{`+boot+`, "machine_config": {}}`)}, `a.json: unknown key "machine_config" (did you mean "machine-config"?)`},
		{"wrong type", []string{"--config-file", file("b.json", `{`+boot+`, "machine-config": {"vcpu_count": "two", "mem_size_mib": 128}}`)}, "b.json: machine-config.vcpu_count: want an integer, got a string"},
		{"network", []string{"--config-file", file("c.json", `{`+boot+`, "network-interfaces": [{"iface_id": "eth0", "host_dev_name": "tap0"}]}`)}, "c.json: network-interfaces: asks for a network interface, which vmm does not have"},
		{"no boot source", []string{"--config-file", file("d.json", `{"machine-config": {"vcpu_count": 1, "mem_size_mib": 128}}`)}, "d.json has no boot-source"},
		{"bad JSON", []string{"--config-file", file("e.json", "{\n\"drives\": [}")}, "e.json: not valid JSON at line 2"},
		{"flag breaks the combination", []string{"--config-file", file("f.json", `{`+boot+`}`), "--mem", "8M"}, "mem_size_mib 8 is too small"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			args := append([]string{"run", "--console", "file:" + console}, c.args...)
			stdout, stderr, code := runVMM(t, bin, nil, args...)
			lines := strings.Split(strings.TrimSpace(stderr), "\n")
			if code != 2 || len(lines) != 1 || !strings.Contains(lines[0], c.want) || stdout != "" {
				t.Errorf("exit %d, stdout %q, stderr %q; want 2 and one line with %q", code, stdout, stderr, c.want)
			}
		})
	}
	if _, err := os.Stat(console); !os.IsNotExist(err) {
		t.Errorf("a refused configuration created the console file (%v)", err)
	}
}

// TestVMConfigLoadsBack: GET /vm/config from a running vmm, saved as a
// file, configures the same machine.
func TestVMConfigLoadsBack(t *testing.T) {
	needKVM(t)
	dir := t.TempDir()
	sock := filepath.Join(dir, "api.sock")
	img := writeImage(t, "root.img", 1<<20, func(int) byte { return 0 })
	cfg := writeFile(t, "vm.json", []byte(fmt.Sprintf(`{"boot-source": {"kernel_image_path": %q, "boot_args": "test=ctrlaltdel"},
  "drives": [{"drive_id": "rootfs", "path_on_host": %q, "is_root_device": true, "is_read_only": true, "partuuid": "1234abcd-01"}],
  "machine-config": {"vcpu_count": 2, "mem_size_mib": 96, "huge_pages": "Transparent"}}`, tinyKernelPath(t), img)))
	p := startVMM(t, "run", "--api-sock", sock, "--config-file", cfg, "--console", "none", "--test-exit")
	c := newAPIClient(t, sock)
	c.waitReady(p)
	code, body := c.do("GET", "/vm/config", "") // the guest waits a minute for Ctrl-Alt-Del
	p.signal(t, syscall.SIGTERM)
	p.wait(t)
	if code != 200 {
		t.Fatalf("GET /vm/config: %d %s", code, body)
	}
	var doc map[string]any
	if err := json.Unmarshal([]byte(body), &doc); err != nil {
		t.Fatal(err)
	}
	saved := writeFile(t, "saved.json", []byte(body))
	out, stderr, status := runVMM(t, helperBinary(t), nil, "run", "--config-file", saved, "--test-exit", "--cmdline", "test=cmdline,fwcfg")
	if status != 0 || !strings.Contains(out, "root=PARTUUID=1234abcd-01 ro") || !strings.Contains(out, "fwcfg: 2 CPUs") || !strings.Contains(out, " 96 MiB RAM") {
		t.Fatalf("saved configuration %s\nexit %d\nstdout:\n%s\nstderr:\n%s", body, status, out, stderr)
	}
}
