package fcconfig

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func defaults() *Resources { return NewResources(Machine{VCPUs: 1, MemSize: 256 << 20}) }

// TestFirecrackerExample loads a configuration laid out like Firecracker's
// own example (tests/framework/vm_config.json there): every key it has,
// the unsupported ones null or empty.
func TestFirecrackerExample(t *testing.T) {
	r := defaults()
	if err := r.ApplyFile("testdata/firecracker-example.json"); err != nil {
		t.Fatal(err)
	}
	l, err := r.Launch("unused")
	if err != nil {
		t.Fatal(err)
	}
	if l.KernelPath != "vmlinux.bin" || l.InitrdPath != "" || l.CPUs != 2 || l.MemSize != 1024<<20 || l.HugePages != "" {
		t.Errorf("launch %+v", l)
	}
	if l.Cmdline != "console=ttyS0 reboot=k panic=1 pci=off root=/dev/vda rw" {
		t.Errorf("cmdline %q", l.Cmdline)
	}
	if len(l.Disks) != 1 {
		t.Fatalf("disks %+v", l.Disks)
	}
	d := l.Disks[0]
	if d.Path != "rootfs.ext4" || d.ReadOnly || !d.Unsafe || d.Engine != "sync" || d.ID != "rootfs" {
		t.Errorf("disk %+v", d)
	}
}

// TestLegacyKeys: ht_enabled (smt before Firecracker 1.0) and mmds-version
// from older example configurations load.
func TestLegacyKeys(t *testing.T) {
	r := defaults()
	doc := `{"boot-source": {"kernel_image_path": "k"}, "machine-config": {"vcpu_count": 2, "mem_size_mib": 512, "ht_enabled": false}, "mmds-version": "V1"}`
	if err := r.applyFile([]byte(doc)); err != nil {
		t.Fatal(err)
	}
	if r.Machine.VCPUs != 2 || r.Machine.MemSize != 512<<20 {
		t.Errorf("machine %+v", r.Machine)
	}
}

// TestFileErrors: each mistake names the key (by its path) and says what
// is wrong; nothing is applied.
func TestFileErrors(t *testing.T) {
	cases := []struct{ name, doc, want string }{
		{"not JSON", `{"boot-source": `, "ends too early"},
		{"syntax", "{\n  \"drives\": [,]\n}", "not valid JSON at line 2"},
		{"not an object", `[1, 2]`, "want an object, got an array"},
		{"empty", ``, "empty"},
		{"trailing", `{} {}`, "unexpected data after the JSON value"},
		{"unknown top-level key", `{"boot_source": {}}`, `unknown key "boot_source" (did you mean "boot-source"?)`},
		{"unknown nested key", `{"machine-config": {"vcpu_count": 1, "mem_size_mib": 128, "vcpus": 2}}`, `unknown key "vcpus" in machine-config`},
		{"unknown drive key", `{"drives": [{"drive_id": "a", "is_root_device": false, "path_on_host": "x", "readonly": true}]}`, `unknown key "readonly" in drives[0]`},
		{"wrong type", `{"machine-config": {"vcpu_count": "2", "mem_size_mib": 128}}`, "machine-config.vcpu_count: want an integer, got a string"},
		{"fraction", `{"machine-config": {"vcpu_count": 1.5, "mem_size_mib": 128}}`, "machine-config.vcpu_count: want an integer, got the number 1.5"},
		{"negative", `{"machine-config": {"vcpu_count": 1, "mem_size_mib": -1}}`, "mem_size_mib: want a non-negative integer, got the number -1"},
		{"bool as string", `{"drives": [{"drive_id": "a", "is_root_device": "yes", "path_on_host": "x"}]}`, "drives[0].is_root_device: want true or false, got a string"},
		{"drives not array", `{"drives": {"drive_id": "a"}}`, "drives: want an array, got an object"},
		{"duplicate key", `{"logger": null, "logger": null}`, "logger: given twice"},
		{"missing required", `{"drives": [{"drive_id": "a", "path_on_host": "x"}]}`, `drives[0]: "is_root_device" is required`},
		{"required null", `{"boot-source": {"kernel_image_path": null}}`, "boot-source.kernel_image_path: must not be null"},
		{"machine without memory", `{"machine-config": {"vcpu_count": 1}}`, `machine-config: "mem_size_mib" is required`},
		{"too many vcpus", `{"machine-config": {"vcpu_count": 33, "mem_size_mib": 128}}`, "vcpu_count 33 is out of range: use 1 to 32"},
		{"too little memory", `{"machine-config": {"vcpu_count": 1, "mem_size_mib": 8}}`, "mem_size_mib 8 is too small"},
		{"smt", `{"machine-config": {"vcpu_count": 2, "mem_size_mib": 128, "smt": true}}`, "smt true"},
		{"dirty pages", `{"machine-config": {"vcpu_count": 2, "mem_size_mib": 128, "track_dirty_pages": true}}`, "track_dirty_pages true"},
		{"cpu template", `{"machine-config": {"vcpu_count": 2, "mem_size_mib": 128, "cpu_template": "T2"}}`, `cpu_template "T2"`},
		{"huge pages", `{"machine-config": {"vcpu_count": 2, "mem_size_mib": 128, "huge_pages": "1G"}}`, `huge_pages "1G"`},
		{"huge pages odd size", `{"machine-config": {"vcpu_count": 2, "mem_size_mib": 129, "huge_pages": "2M"}}`, "multiple of 2"},
		{"cache type", `{"drives": [{"drive_id": "a", "is_root_device": true, "path_on_host": "x", "cache_type": "None"}]}`, `cache_type "None": use Unsafe or Writeback`},
		{"io engine", `{"drives": [{"drive_id": "a", "is_root_device": true, "path_on_host": "x", "io_engine": "Uring"}]}`, `io_engine "Uring": use Sync or Async`},
		{"bad drive id", `{"drives": [{"drive_id": "a-b", "is_root_device": true, "path_on_host": "x"}]}`, `drive_id "a-b"`},
		{"no path", `{"drives": [{"drive_id": "a", "is_root_device": true}]}`, "path_on_host is required"},
		{"vhost-user", `{"drives": [{"drive_id": "a", "is_root_device": true, "socket": "/run/vu.sock"}]}`, "drives[0].socket: asks for a vhost-user block backend"},
		{"rate limiter", `{"drives": [{"drive_id": "a", "is_root_device": true, "path_on_host": "x", "rate_limiter": {"bandwidth": {"size": 1, "refill_time": 1}}}]}`, "drives[0].rate_limiter: asks for a rate limiter"},
		{"partuuid with a space", `{"drives": [{"drive_id": "a", "is_root_device": true, "path_on_host": "x", "partuuid": "1 init=/bin/sh"}]}`, "not a partition UUID"},
		{"two roots", `{"drives": [{"drive_id": "a", "is_root_device": true, "path_on_host": "x"}, {"drive_id": "b", "is_root_device": true, "path_on_host": "y"}]}`, "drives[1]: drive b: drive a is already the root device"},
		{"network", `{"network-interfaces": [{"iface_id": "eth0", "host_dev_name": "tap0"}]}`, "network-interfaces: asks for a network interface, which vmm does not have"},
		{"vsock", `{"vsock": {"guest_cid": 3, "uds_path": "/tmp/v.sock"}}`, "vsock: asks for a vsock device"},
		{"balloon", `{"balloon": {"amount_mib": 1, "deflate_on_oom": false}}`, "balloon: asks for a balloon device"},
		{"mmds", `{"mmds-config": {"network_interfaces": ["eth0"]}}`, "mmds-config: asks for the microVM metadata service"},
		{"entropy", `{"entropy": {"rate_limiter": null}}`, "entropy: asks for an entropy device"},
		{"cpu-config", `{"cpu-config": "/etc/template.json"}`, "cpu-config: asks for a custom CPU template"},
		{"pmem", `{"pmem": [{"id": "p", "path_on_host": "x"}]}`, "pmem: asks for a virtio-pmem device"},
		{"logger module", `{"logger": {"module": "api_server"}}`, `module "api_server"`},
		{"logger level", `{"logger": {"level": "Loud"}}`, `level "Loud"`},
		{"metrics without path", `{"metrics": {}}`, `metrics: "metrics_path" is required`},
		{"mmds version", `{"mmds-version": "V3"}`, `mmds-version "V3"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := defaults()
			before := *r
			err := r.applyFile([]byte(c.doc))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want one containing %q", err, c.want)
			}
			if r.Machine != before.Machine || r.KernelPath != "" || r.Drives != nil {
				t.Errorf("a failed file changed the configuration: %+v", r)
			}
		})
	}
}

// TestApplyFileNamesTheFile: errors about the file itself, and about its
// contents, start with its path.
func TestApplyFileNamesTheFile(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "vm.json")
	if err := os.WriteFile(bad, []byte(`{"drive": []}`), 0o600); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(dir, "big.json")
	if err := os.WriteFile(big, make([]byte, maxFileSize+1), 0o600); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]string{
		bad:                             "config file " + bad + `: unknown key "drive"`,
		filepath.Join(dir, "none.json"): "does not exist",
		dir:                             "is not a regular file",
		big:                             "larger than 1024 KiB",
	} {
		if err := defaults().ApplyFile(path); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", path, err, want)
		}
	}
}
