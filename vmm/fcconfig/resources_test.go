package fcconfig

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

func ptr[T any](v T) *T { return &v }

func drive(id, path string, root bool) Drive {
	return Drive{DriveID: id, PathOnHost: ptr(path), IsRootDevice: root}
}

// TestMachinePutAndPatch: PUT needs both sizes and resets what it leaves
// out; PATCH changes only what it gives; a refused request changes nothing.
func TestMachinePutAndPatch(t *testing.T) {
	r := defaults()
	if err := r.SetMachine(MachineConfig{VCPUCount: ptr(4), MemSizeMiB: ptr(uint64(512)), HugePages: ptr("Transparent")}, false); err != nil {
		t.Fatal(err)
	}
	if err := r.SetMachine(MachineConfig{VCPUCount: ptr(2)}, true); err != nil {
		t.Fatal(err)
	}
	if r.Machine != (Machine{VCPUs: 2, MemSize: 512 << 20, HugePages: HugePagesTransparent}) {
		t.Errorf("after PATCH: %+v", r.Machine)
	}
	if err := r.SetMachine(MachineConfig{VCPUCount: ptr(1), MemSizeMiB: ptr(uint64(128))}, false); err != nil {
		t.Fatal(err)
	}
	if r.Machine.HugePages != HugePagesNone {
		t.Errorf("PUT kept huge_pages %q", r.Machine.HugePages)
	}
	before := r.Machine
	if err := r.SetMachine(MachineConfig{VCPUCount: ptr(0)}, true); err == nil {
		t.Error("vcpu_count 0 accepted")
	}
	if err := r.SetMachine(MachineConfig{VCPUCount: ptr(2)}, false); err == nil || !strings.Contains(err.Error(), "mem_size_mib") {
		t.Errorf("PUT without mem_size_mib: %v", err)
	}
	if r.Machine != before {
		t.Errorf("refused requests changed the machine: %+v", r.Machine)
	}
}

// TestDrivesRootFirst: the root device moves to the front (it is vda);
// a PUT of an existing id replaces it in place; limits hold.
func TestDrivesRootFirst(t *testing.T) {
	r := defaults()
	for _, d := range []Drive{drive("data", "d.img", false), drive("scratch", "s.img", false), drive("rootfs", "r.img", true)} {
		if err := r.PutDrive(d); err != nil {
			t.Fatal(err)
		}
	}
	ids := func() string {
		var s []string
		for _, d := range r.Drives {
			s = append(s, d.ID)
		}
		return strings.Join(s, ",")
	}
	if got := ids(); got != "rootfs,data,scratch" {
		t.Errorf("order %s", got)
	}
	if err := r.PutDrive(drive("scratch", "s2.img", false)); err != nil {
		t.Fatal(err)
	}
	if got := ids(); got != "rootfs,data,scratch" || r.Drives[2].Path != "s2.img" {
		t.Errorf("after replacing scratch: %s, %+v", got, r.Drives[2])
	}
	if err := r.PutDrive(drive("other", "o.img", true)); err == nil {
		t.Error("a second root device was accepted")
	}
	// rootfs stops being root; data becomes root and moves first.
	if err := r.PutDrive(drive("rootfs", "r.img", false)); err != nil {
		t.Fatal(err)
	}
	if err := r.PutDrive(drive("data", "d.img", true)); err != nil {
		t.Fatal(err)
	}
	if got := ids(); got != "data,rootfs,scratch" {
		t.Errorf("order %s", got)
	}
	for i := len(r.Drives); i < 8; i++ {
		if err := r.PutDrive(drive(fmt.Sprintf("d%d", i), "x", false)); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.PutDrive(drive("ninth", "x", false)); err == nil || !strings.Contains(err.Error(), "at most 8") {
		t.Errorf("ninth drive: %v", err)
	}
	if r.DriveIndex("scratch") != 2 || r.DriveIndex("nope") != -1 {
		t.Errorf("DriveIndex: %d %d", r.DriveIndex("scratch"), r.DriveIndex("nope"))
	}
}

func TestLaunchCommandLine(t *testing.T) {
	cases := []struct {
		name  string
		args  *string
		d     *Drive
		want  string
		getID string
	}{
		{"default, no root", nil, nil, "console=ttyS0", ""},
		{"given args", ptr("quiet"), nil, "quiet", ""},
		{"root rw", ptr("quiet"), ptr(drive("rootfs", "r", true)), "quiet root=/dev/vda rw", "rootfs"},
		{"root ro by partuuid", ptr(""), &Drive{DriveID: "a_very_long_drive_identifier", PathOnHost: ptr("r"), IsRootDevice: true,
			IsReadOnly: ptr(true), PartUUID: ptr("0eaa91a0-01")}, "root=PARTUUID=0eaa91a0-01 ro", "a_very_long_drive_id"},
		{"not root", ptr("quiet"), ptr(drive("data", "d", false)), "quiet", "data"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := defaults()
			if err := r.SetBootSource(BootSource{KernelImagePath: "k", BootArgs: c.args}); err != nil {
				t.Fatal(err)
			}
			if c.d != nil {
				if err := r.PutDrive(*c.d); err != nil {
					t.Fatal(err)
				}
			}
			l, err := r.Launch("console=ttyS0")
			if err != nil {
				t.Fatal(err)
			}
			if l.Cmdline != c.want {
				t.Errorf("cmdline %q, want %q", l.Cmdline, c.want)
			}
			if c.d != nil && l.Disks[0].ID != c.getID {
				t.Errorf("GET_ID %q, want %q", l.Disks[0].ID, c.getID)
			}
		})
	}
	if _, err := defaults().Launch(""); err != ErrNoKernel {
		t.Errorf("launch without a kernel: %v", err)
	}
}

// TestVMConfigRoundTrip: GET /vm/config's document loads back as a
// configuration file and gives the same configuration.
func TestVMConfigRoundTrip(t *testing.T) {
	r := defaults()
	if err := r.ApplyFile("testdata/firecracker-example.json"); err != nil {
		t.Fatal(err)
	}
	if err := r.PutDrive(Drive{DriveID: "data", PathOnHost: ptr("d.img"), IsRootDevice: false, IsReadOnly: ptr(true),
		CacheType: ptr("Writeback"), IOEngine: ptr("Async")}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.SetLogger(Logger{LogPath: ptr("/tmp/log"), Level: ptr("warn"), ShowLevel: ptr(true)}); err != nil {
		t.Fatal(err)
	}
	if err := r.SetMetrics(Metrics{MetricsPath: "/tmp/metrics"}); err != nil {
		t.Fatal(err)
	}
	doc, err := json.Marshal(r.VMConfig())
	if err != nil {
		t.Fatal(err)
	}
	back := defaults()
	if err := back.applyFile(doc); err != nil {
		t.Fatalf("%v\n%s", err, doc)
	}
	again, _ := json.Marshal(back.VMConfig())
	if string(again) != string(doc) {
		t.Errorf("round trip changed the document:\n%s\n%s", doc, again)
	}
	if err := r.SetMetrics(Metrics{MetricsPath: "/tmp/other"}); err == nil {
		t.Error("metrics configured twice")
	}
}

// FuzzApplyFile: no document panics the decoder, and every document it
// accepts renders to one that loads back to the same configuration.
func FuzzApplyFile(f *testing.F) {
	f.Add([]byte(`{"boot-source": {"kernel_image_path": "k", "boot_args": "a"}, "machine-config": {"vcpu_count": 2, "mem_size_mib": 64}}`))
	f.Add([]byte(`{"drives": [{"drive_id": "r", "is_root_device": true, "path_on_host": "x", "partuuid": "ab-1"}], "network-interfaces": []}`))
	f.Add([]byte(`{"logger": {"level": "Debug"}, "metrics": {"metrics_path": "m"}, "vsock": null}`))
	f.Add([]byte(`{"drives": [{"drive_id": "a", "is_root_device": false, "path_on_host": "x", "rate_limiter": {}}]}`))
	f.Fuzz(func(t *testing.T, doc []byte) {
		r := defaults()
		if err := r.applyFile(doc); err != nil {
			return
		}
		out, err := json.Marshal(r.VMConfig())
		if err != nil {
			t.Fatal(err)
		}
		back := defaults()
		if err := back.applyFile(out); err != nil {
			t.Fatalf("rendered document refused: %v\n%s", err, out)
		}
		again, _ := json.Marshal(back.VMConfig())
		if string(again) != string(out) {
			t.Fatalf("round trip changed the document:\n%s\n%s", out, again)
		}
	})
}
