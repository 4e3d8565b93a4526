package fcconfig

import "encoding/json"

// The request bodies and configuration-file sections, as Firecracker
// defines them (swagger definitions of the same names). Optional fields
// are pointers: nil means absent or null.

// BootSource is the boot-source section and PUT /boot-source's body.
type BootSource struct {
	KernelImagePath string  `json:"kernel_image_path" fc:"required"`
	InitrdPath      *string `json:"initrd_path"`
	BootArgs        *string `json:"boot_args"`
}

// Drive is one entry of drives and PUT /drives/{drive_id}'s body.
type Drive struct {
	DriveID      string  `json:"drive_id" fc:"required"`
	PathOnHost   *string `json:"path_on_host"`
	IsRootDevice bool    `json:"is_root_device" fc:"required"`
	IsReadOnly   *bool   `json:"is_read_only"`
	PartUUID     *string `json:"partuuid"`
	CacheType    *string `json:"cache_type"`
	IOEngine     *string `json:"io_engine"`
	// Firecracker features vmm does not have.
	RateLimiter json.RawMessage `json:"rate_limiter" fc:"unsupported=a rate limiter"`
	Socket      json.RawMessage `json:"socket" fc:"unsupported=a vhost-user block backend"`
}

// PartialDrive is PATCH /drives/{drive_id}'s body.
type PartialDrive struct {
	DriveID     string          `json:"drive_id" fc:"required"`
	PathOnHost  *string         `json:"path_on_host"`
	RateLimiter json.RawMessage `json:"rate_limiter" fc:"unsupported=a rate limiter"`
}

// MachineConfig is the machine-config section and the body of PUT and
// PATCH /machine-config (PUT requires the first two).
type MachineConfig struct {
	VCPUCount       *int    `json:"vcpu_count"`
	MemSizeMiB      *uint64 `json:"mem_size_mib"`
	SMT             *bool   `json:"smt"`
	TrackDirtyPages *bool   `json:"track_dirty_pages"`
	HugePages       *string `json:"huge_pages"`
	CPUTemplate     *string `json:"cpu_template"`
	// HTEnabled is smt's name before Firecracker 1.0; older example
	// configurations still carry it.
	HTEnabled *bool `json:"ht_enabled"`
}

// Logger is the logger section and PUT /logger's body.
type Logger struct {
	LogPath       *string `json:"log_path"`
	Level         *string `json:"level"`
	ShowLevel     *bool   `json:"show_level"`
	ShowLogOrigin *bool   `json:"show_log_origin"`
	Module        *string `json:"module"`
}

// Metrics is the metrics section and PUT /metrics's body.
type Metrics struct {
	MetricsPath string `json:"metrics_path" fc:"required"`
}

// Action is PUT /actions's body.
type Action struct {
	ActionType string `json:"action_type" fc:"required"`
}

// The action types (InstanceActionInfo.action_type).
const (
	ActionInstanceStart  = "InstanceStart"
	ActionSendCtrlAltDel = "SendCtrlAltDel"
	ActionFlushMetrics   = "FlushMetrics"
)

// File is a whole configuration file (`--config-file`). Every top-level
// key Firecracker knows is here; the ones for devices vmm does not have
// are accepted only empty.
type File struct {
	BootSource *BootSource    `json:"boot-source"`
	Drives     []Drive        `json:"drives"`
	Machine    *MachineConfig `json:"machine-config"`
	Logger     *Logger        `json:"logger"`
	Metrics    *Metrics       `json:"metrics"`

	NetworkInterfaces json.RawMessage `json:"network-interfaces" fc:"unsupported=a network interface"`
	Vsock             json.RawMessage `json:"vsock" fc:"unsupported=a vsock device"`
	Balloon           json.RawMessage `json:"balloon" fc:"unsupported=a balloon device"`
	MMDSConfig        json.RawMessage `json:"mmds-config" fc:"unsupported=the microVM metadata service (MMDS)"`
	Entropy           json.RawMessage `json:"entropy" fc:"unsupported=an entropy device"`
	CPUConfig         json.RawMessage `json:"cpu-config" fc:"unsupported=a custom CPU template"`
	Pmem              json.RawMessage `json:"pmem" fc:"unsupported=a virtio-pmem device"`
	MemoryHotplug     json.RawMessage `json:"memory-hotplug" fc:"unsupported=hotpluggable memory (virtio-mem)"`
	Serial            json.RawMessage `json:"serial" fc:"unsupported=a serial output path (use --console file:PATH)"`
	// MMDSVersion is a top-level key of older Firecracker configurations;
	// without MMDS it chooses nothing.
	MMDSVersion *string `json:"mmds-version"`
}
