package fcconfig

import "testing"

// FuzzRequestBodies feeds the same bytes to every API request body type
// and the setters behind them: none may panic, and a body that decodes
// and is accepted leaves a configuration that still validates.
func FuzzRequestBodies(f *testing.F) {
	f.Add([]byte(`{"drive_id": "rootfs", "path_on_host": "/r", "is_root_device": true, "cache_type": "Writeback"}`))
	f.Add([]byte(`{"vcpu_count": 2, "mem_size_mib": 1024, "huge_pages": "2M"}`))
	f.Add([]byte(`{"kernel_image_path": "/k", "boot_args": "console=ttyS0", "initrd_path": null}`))
	f.Add([]byte(`{"log_path": "/l", "level": "warn", "show_level": true}`))
	f.Add([]byte(`{"action_type": "InstanceStart"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		r := defaults()
		var d Drive
		if Decode(body, &d) == nil {
			_ = r.PutDrive(d)
		}
		var pd PartialDrive
		_ = Decode(body, &pd)
		var mc MachineConfig
		if Decode(body, &mc) == nil {
			_ = r.SetMachine(mc, true)
			_ = r.SetMachine(mc, false)
		}
		var b BootSource
		if Decode(body, &b) == nil {
			_ = r.SetBootSource(b)
		}
		var l Logger
		if Decode(body, &l) == nil {
			_, _ = r.SetLogger(l)
		}
		var m Metrics
		if Decode(body, &m) == nil {
			_ = r.SetMetrics(m)
		}
		var a Action
		_ = Decode(body, &a)
		if err := r.Validate(); err != nil {
			t.Fatalf("accepted requests left an invalid configuration: %v (%+v)", err, r)
		}
	})
}
