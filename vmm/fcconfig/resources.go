package fcconfig

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"vmm/vmm"
)

// Resources is a machine being configured (Firecracker's VmResources):
// what the configuration file, the API and vmm's own flags set, in the
// normalized form vmm builds from. The zero value is not ready: use
// NewResources.
type Resources struct {
	KernelPath string  // "" until a boot source is set
	InitrdPath string  // "" for none
	BootArgs   *string // nil: the caller's default command line
	Machine    Machine
	Drives     []DriveConfig // the root device, if any, first
	Logger     *LoggerConfig
	Metrics    string // metrics path; "" until configured
}

// Machine is the machine configuration.
type Machine struct {
	VCPUs     int
	MemSize   uint64 // bytes
	HugePages string // HugePagesNone, HugePagesTransparent or HugePages2M
}

// huge_pages values.
const (
	HugePagesNone        = "None"
	HugePagesTransparent = "Transparent"
	HugePages2M          = "2M"
)

// DriveConfig is a drive as vmm attaches it.
type DriveConfig struct {
	ID        string
	Path      string
	Root      bool
	ReadOnly  bool
	PartUUID  string // "" for none
	CacheType string // CacheUnsafe or CacheWriteback
	IOEngine  string // EngineSync, EngineAsync, or "" for vmm's default (io_uring where it works)
	// Set from vmm's --disk only: O_DIRECT, and the GET_ID answer when it
	// differs from the first 20 bytes of ID.
	Direct bool
	GetID  string
}

// cache_type and io_engine values.
const (
	CacheUnsafe    = "Unsafe"
	CacheWriteback = "Writeback"
	EngineSync     = "Sync"
	EngineAsync    = "Async"
)

// LoggerConfig is the logger configuration.
type LoggerConfig struct {
	Path       string // "" keeps logging to stderr
	Level      string // LevelError ... LevelOff
	ShowLevel  bool
	ShowOrigin bool
}

// Logger levels (case-insensitive on input; Warn is taken for Warning).
const (
	LevelError   = "Error"
	LevelWarning = "Warning"
	LevelInfo    = "Info"
	LevelDebug   = "Debug"
	LevelTrace   = "Trace"
	LevelOff     = "Off"
)

// MaxVCPUs is machine-config.vcpu_count's upper bound: vmm's and
// Firecracker's both.
const MaxVCPUs = vmm.MaxCPUs

// NewResources returns a machine with m's CPUs and memory and nothing else.
func NewResources(m Machine) *Resources {
	if m.HugePages == "" {
		m.HugePages = HugePagesNone
	}
	return &Resources{Machine: m}
}

// SetBootSource sets the kernel, initrd and command line.
func (r *Resources) SetBootSource(b BootSource) error {
	if strings.TrimSpace(b.KernelImagePath) == "" {
		return errors.New("kernel_image_path is empty: give the path of the guest kernel")
	}
	r.KernelPath, r.InitrdPath, r.BootArgs = b.KernelImagePath, "", nil
	if b.InitrdPath != nil {
		r.InitrdPath = *b.InitrdPath
	}
	if b.BootArgs != nil {
		args := *b.BootArgs
		r.BootArgs = &args
	}
	return nil
}

// SetMachine applies a machine configuration. A PUT (partial false) needs
// vcpu_count and mem_size_mib and resets what it leaves out to the
// defaults; a PATCH changes only what it gives. Nothing changes on error.
func (r *Resources) SetMachine(mc MachineConfig, partial bool) error {
	m := r.Machine
	if !partial {
		if mc.VCPUCount == nil {
			return errors.New(`"vcpu_count" is required`)
		}
		if mc.MemSizeMiB == nil {
			return errors.New(`"mem_size_mib" is required`)
		}
		m.HugePages = HugePagesNone
	}
	if mc.VCPUCount != nil {
		m.VCPUs = *mc.VCPUCount
	}
	if mc.MemSizeMiB != nil {
		if *mc.MemSizeMiB > vmm.MaxMemSize>>20 {
			return fmt.Errorf("mem_size_mib %d is more than vmm supports: use at most %d", *mc.MemSizeMiB, vmm.MaxMemSize>>20)
		}
		m.MemSize = *mc.MemSizeMiB << 20
	}
	if mc.HugePages != nil {
		m.HugePages = *mc.HugePages
	}
	for _, smt := range []*bool{mc.SMT, mc.HTEnabled} {
		if smt != nil && *smt {
			return errors.New("smt true: vmm gives every vCPU a core of its own; set smt to false")
		}
	}
	if mc.TrackDirtyPages != nil && *mc.TrackDirtyPages {
		return errors.New("track_dirty_pages true: dirty pages are tracked for snapshots, which vmm does not have; set it to false")
	}
	if mc.CPUTemplate != nil && *mc.CPUTemplate != "None" {
		return fmt.Errorf("cpu_template %q: vmm has no CPU templates; leave it out or set it to \"None\"", *mc.CPUTemplate)
	}
	if err := validateMachine(m); err != nil {
		return err
	}
	r.Machine = m
	return nil
}

func validateMachine(m Machine) error {
	if m.VCPUs < 1 || m.VCPUs > MaxVCPUs {
		return fmt.Errorf("vcpu_count %d is out of range: use 1 to %d", m.VCPUs, MaxVCPUs)
	}
	if m.MemSize < vmm.MinMemSize {
		return fmt.Errorf("mem_size_mib %d is too small: use at least %d", m.MemSize>>20, vmm.MinMemSize>>20)
	}
	switch m.HugePages {
	case HugePagesNone, HugePagesTransparent:
	case HugePages2M:
		if m.MemSize%(2<<20) != 0 {
			return fmt.Errorf("huge_pages 2M needs mem_size_mib to be a multiple of 2, not %d", m.MemSize>>20)
		}
	default:
		return fmt.Errorf("huge_pages %q: use None, Transparent or 2M", m.HugePages)
	}
	return nil
}

// driveIDPattern is what Firecracker accepts as a drive_id.
var driveIDPattern = regexp.MustCompile(`^[A-Za-z0-9_]{1,64}$`)

// partUUIDPattern keeps partuuid to what a PARTUUID looks like (GPT
// 8-4-4-4-12 hex, MBR XXXXXXXX-YY): it goes on the kernel command line,
// where a space would add a parameter.
var partUUIDPattern = regexp.MustCompile(`^[0-9A-Za-z-]{1,64}$`)

// PutDrive adds a drive, or replaces the drive with the same id (keeping
// its place). The root device always comes first, so it is /dev/vda.
func (r *Resources) PutDrive(d Drive) error {
	if !driveIDPattern.MatchString(d.DriveID) {
		return fmt.Errorf("drive_id %q: use 1 to 64 letters, digits or underscores", d.DriveID)
	}
	dc := DriveConfig{ID: d.DriveID, Root: d.IsRootDevice, CacheType: CacheUnsafe, IOEngine: EngineSync}
	if d.PathOnHost == nil || *d.PathOnHost == "" {
		return fmt.Errorf("drive %s: path_on_host is required (vmm has no vhost-user block devices)", d.DriveID)
	}
	dc.Path = *d.PathOnHost
	if d.IsReadOnly != nil {
		dc.ReadOnly = *d.IsReadOnly
	}
	if d.PartUUID != nil && *d.PartUUID != "" {
		if !partUUIDPattern.MatchString(*d.PartUUID) {
			return fmt.Errorf("drive %s: partuuid %q is not a partition UUID (hex digits and dashes)", d.DriveID, *d.PartUUID)
		}
		dc.PartUUID = *d.PartUUID
	}
	if d.CacheType != nil {
		dc.CacheType = *d.CacheType
	}
	if d.IOEngine != nil {
		dc.IOEngine = *d.IOEngine
	}
	return r.putDriveConfig(dc)
}

// putDriveConfig validates dc and inserts it.
func (r *Resources) putDriveConfig(dc DriveConfig) error {
	if err := validateDrive(dc); err != nil {
		return err
	}
	drives := append([]DriveConfig(nil), r.Drives...)
	at := -1
	for i, x := range drives {
		if x.ID == dc.ID {
			at = i
		} else if x.Root && dc.Root {
			return fmt.Errorf("drive %s: drive %s is already the root device; only one drive can be", dc.ID, x.ID)
		}
	}
	if at >= 0 {
		drives[at] = dc
	} else {
		if len(drives) >= vmm.MaxDisks {
			return fmt.Errorf("drive %s: at most %d drives", dc.ID, vmm.MaxDisks)
		}
		drives = append(drives, dc)
	}
	r.Drives = rootFirst(drives)
	return nil
}

func validateDrive(dc DriveConfig) error {
	switch dc.CacheType {
	case CacheUnsafe, CacheWriteback:
	default:
		return fmt.Errorf("drive %s: cache_type %q: use Unsafe or Writeback", dc.ID, dc.CacheType)
	}
	switch dc.IOEngine {
	case EngineSync, EngineAsync, "":
	default:
		return fmt.Errorf("drive %s: io_engine %q: use Sync or Async", dc.ID, dc.IOEngine)
	}
	return nil
}

// rootFirst moves the root device to the front, the rest keeping their order.
func rootFirst(drives []DriveConfig) []DriveConfig {
	for i, d := range drives {
		if d.Root && i > 0 {
			out := append([]DriveConfig{d}, drives[:i]...)
			return append(out, drives[i+1:]...)
		}
	}
	return drives
}

// DriveIndex returns the position of drive id (its order in the VM), or -1.
func (r *Resources) DriveIndex(id string) int {
	for i, d := range r.Drives {
		if d.ID == id {
			return i
		}
	}
	return -1
}

// SetDrives replaces every drive (vmm's --disk flags, which override the
// file's drives).
func (r *Resources) SetDrives(drives []DriveConfig) error {
	r.Drives = nil
	for _, d := range drives {
		if err := r.putDriveConfig(d); err != nil {
			return err
		}
	}
	return nil
}

// SetLogger validates and applies a logger configuration and returns it.
func (r *Resources) SetLogger(l Logger) (LoggerConfig, error) {
	lc := LoggerConfig{Level: LevelInfo}
	if l.LogPath != nil {
		lc.Path = *l.LogPath
	}
	if l.Level != nil {
		switch strings.ToLower(*l.Level) {
		case "error":
			lc.Level = LevelError
		case "warning", "warn":
			lc.Level = LevelWarning
		case "info":
			lc.Level = LevelInfo
		case "debug":
			lc.Level = LevelDebug
		case "trace":
			lc.Level = LevelTrace
		case "off":
			lc.Level = LevelOff
		default:
			return lc, fmt.Errorf("level %q: use Error, Warning, Info, Debug, Trace or Off", *l.Level)
		}
	}
	if l.ShowLevel != nil {
		lc.ShowLevel = *l.ShowLevel
	}
	if l.ShowLogOrigin != nil {
		lc.ShowOrigin = *l.ShowLogOrigin
	}
	if l.Module != nil && *l.Module != "" {
		return lc, fmt.Errorf("module %q: vmm's log has no per-module filter; leave module out", *l.Module)
	}
	r.Logger = &lc
	return lc, nil
}

// SetMetrics sets the metrics path; like Firecracker, only once.
func (r *Resources) SetMetrics(m Metrics) error {
	if r.Metrics != "" {
		return fmt.Errorf("metrics are already written to %s: they can be configured only once", r.Metrics)
	}
	if strings.TrimSpace(m.MetricsPath) == "" {
		return errors.New("metrics_path is empty: give a file or named pipe")
	}
	r.Metrics = m.MetricsPath
	return nil
}

// Validate checks the whole configuration again, after vmm's flags
// changed parts of it: the same rules as the requests that set it.
func (r *Resources) Validate() error {
	if err := validateMachine(r.Machine); err != nil {
		return err
	}
	if len(r.Drives) > vmm.MaxDisks {
		return fmt.Errorf("%d drives: at most %d", len(r.Drives), vmm.MaxDisks)
	}
	roots, ids := 0, map[string]bool{}
	for _, d := range r.Drives {
		if err := validateDrive(d); err != nil {
			return err
		}
		if ids[d.ID] {
			return fmt.Errorf("drive id %q is used twice", d.ID)
		}
		ids[d.ID] = true
		if d.Root {
			roots++
		}
	}
	if roots > 1 {
		return errors.New("more than one root device")
	}
	return nil
}
