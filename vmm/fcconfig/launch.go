package fcconfig

import (
	"errors"
	"strings"

	"vmm/devices/virtio/block"
	"vmm/vmm"
)

// Launch is what vmm needs to build the VM: paths to load and the
// vmm.Config fields the configuration decides.
type Launch struct {
	KernelPath, InitrdPath string
	Cmdline                string
	CPUs                   int
	MemSize                uint64
	HugePages              string // vmm.Config.HugePages
	Disks                  []vmm.DiskConfig
}

// ErrNoKernel is Launch's answer before a boot source was set.
var ErrNoKernel = errors.New("no boot source: set boot-source.kernel_image_path (PUT /boot-source) or give --kernel")

// Launch checks the configuration and returns what the VM is built from.
// defaultCmdline is used when boot_args was not given. A root device adds
// root=/dev/vda (its partuuid: root=PARTUUID=...) and ro or rw, as
// Firecracker does.
func (r *Resources) Launch(defaultCmdline string) (Launch, error) {
	if r.KernelPath == "" {
		return Launch{}, ErrNoKernel
	}
	if err := r.Validate(); err != nil {
		return Launch{}, err
	}
	l := Launch{KernelPath: r.KernelPath, InitrdPath: r.InitrdPath, CPUs: r.Machine.VCPUs, MemSize: r.Machine.MemSize,
		Cmdline: defaultCmdline}
	switch r.Machine.HugePages {
	case HugePagesTransparent:
		l.HugePages = vmm.HugePagesTransparent
	case HugePages2M:
		l.HugePages = vmm.HugePages2M
	}
	if r.BootArgs != nil {
		l.Cmdline = *r.BootArgs
	}
	for _, d := range r.Drives {
		l.Disks = append(l.Disks, d.diskConfig())
		if d.Root {
			l.Cmdline = strings.TrimSpace(l.Cmdline + " " + d.rootArgs())
		}
	}
	return l, nil
}

// rootArgs is the command line that mounts d as the root filesystem.
// Preconditions: d is the first drive (vda).
func (d DriveConfig) rootArgs() string {
	root := "root=/dev/vda"
	if d.PartUUID != "" {
		root = "root=PARTUUID=" + d.PartUUID
	}
	if d.ReadOnly {
		return root + " ro"
	}
	return root + " rw"
}

// diskConfig is the drive as vmm attaches it.
func (d DriveConfig) diskConfig() vmm.DiskConfig {
	id := d.GetID
	if id == "" {
		id = d.ID[:min(len(d.ID), block.IDLength)]
	}
	dc := vmm.DiskConfig{Path: d.Path, ReadOnly: d.ReadOnly, Direct: d.Direct, ID: id, Unsafe: d.CacheType == CacheUnsafe}
	switch d.IOEngine {
	case EngineSync:
		dc.Engine = "sync"
	case EngineAsync:
		dc.Engine = "uring"
	}
	return dc
}
