package fcconfig

// The GET responses: shapes from Firecracker's swagger (FullVmConfiguration,
// MachineConfiguration); keys for devices vmm does not have are null or
// empty, so the document loads back as a configuration file.

// VMConfig is GET /vm/config's body.
type VMConfig struct {
	Balloon           *struct{}        `json:"balloon"`
	Drives            []DriveOut       `json:"drives"`
	BootSource        *BootSourceOut   `json:"boot-source"`
	CPUConfig         *struct{}        `json:"cpu-config"`
	Logger            *LoggerOut       `json:"logger"`
	Machine           MachineConfigOut `json:"machine-config"`
	Metrics           *Metrics         `json:"metrics"`
	MMDSConfig        *struct{}        `json:"mmds-config"`
	NetworkInterfaces []struct{}       `json:"network-interfaces"`
	Vsock             *struct{}        `json:"vsock"`
	Entropy           *struct{}        `json:"entropy"`
}

// BootSourceOut is the boot-source as configured.
type BootSourceOut struct {
	KernelImagePath string  `json:"kernel_image_path"`
	InitrdPath      *string `json:"initrd_path"`
	BootArgs        *string `json:"boot_args"`
}

// DriveOut is a drive as configured.
type DriveOut struct {
	DriveID      string    `json:"drive_id"`
	PartUUID     *string   `json:"partuuid"`
	IsRootDevice bool      `json:"is_root_device"`
	CacheType    string    `json:"cache_type"`
	IsReadOnly   bool      `json:"is_read_only"`
	PathOnHost   string    `json:"path_on_host"`
	RateLimiter  *struct{} `json:"rate_limiter"`
	IOEngine     string    `json:"io_engine"`
}

// MachineConfigOut is GET /machine-config's body.
type MachineConfigOut struct {
	VCPUCount       int    `json:"vcpu_count"`
	MemSizeMiB      uint64 `json:"mem_size_mib"`
	SMT             bool   `json:"smt"`
	TrackDirtyPages bool   `json:"track_dirty_pages"`
	HugePages       string `json:"huge_pages"`
}

// LoggerOut is the logger as configured.
type LoggerOut struct {
	LogPath       string `json:"log_path,omitempty"`
	Level         string `json:"level"`
	ShowLevel     bool   `json:"show_level"`
	ShowLogOrigin bool   `json:"show_log_origin"`
}

// MachineOut renders the machine configuration.
func (r *Resources) MachineOut() MachineConfigOut {
	return MachineConfigOut{VCPUCount: r.Machine.VCPUs, MemSizeMiB: r.Machine.MemSize >> 20, HugePages: r.Machine.HugePages}
}

// VMConfig renders the whole configuration.
func (r *Resources) VMConfig() VMConfig {
	c := VMConfig{Drives: []DriveOut{}, Machine: r.MachineOut(), NetworkInterfaces: []struct{}{}}
	if r.KernelPath != "" {
		b := &BootSourceOut{KernelImagePath: r.KernelPath, BootArgs: r.BootArgs}
		if r.InitrdPath != "" {
			p := r.InitrdPath
			b.InitrdPath = &p
		}
		c.BootSource = b
	}
	for _, d := range r.Drives {
		o := DriveOut{DriveID: d.ID, IsRootDevice: d.Root, CacheType: d.CacheType, IsReadOnly: d.ReadOnly,
			PathOnHost: d.Path, IOEngine: d.IOEngine}
		if o.IOEngine == "" {
			o.IOEngine = EngineAsync // vmm's default: io_uring where the host has it
		}
		if d.PartUUID != "" {
			p := d.PartUUID
			o.PartUUID = &p
		}
		c.Drives = append(c.Drives, o)
	}
	if r.Logger != nil {
		c.Logger = &LoggerOut{LogPath: r.Logger.Path, Level: r.Logger.Level, ShowLevel: r.Logger.ShowLevel,
			ShowLogOrigin: r.Logger.ShowOrigin}
	}
	if r.Metrics != "" {
		c.Metrics = &Metrics{MetricsPath: r.Metrics}
	}
	return c
}
