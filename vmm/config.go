package vmm

import (
	"fmt"
	"io"
	"strings"

	"golang.org/x/sys/unix"
)

// MaxCPUs caps --cpus: the MP table and topology leaves are built for it.
const MaxCPUs = 32

// MaxMemSize caps --mem whatever the host has: 1 TiB keeps guest RAM well
// inside the 40-bit guest-physical space every x86-64 KVM host offers.
const MaxMemSize = 1 << 40

// MinMemSize is the smallest guest RAM vmm builds (layout.go).
const MinMemSize = minMemSize

// Config describes one VM. Kernel and Initrd are file contents; the names
// appear in error messages.
type Config struct {
	Device     string // KVM device, normally /dev/kvm
	Kernel     []byte
	KernelName string
	Initrd     []byte
	InitrdName string
	Cmdline    string
	Boot       string // boot protocol: one of BootChoices; "" means auto
	MemSize    uint64
	CPUs       int
	TestExit   bool // attach the test devices (exit status port, scratch, test irqfd, QEMU pc-testdev ports)
	// Workarounds says whether to add kernel parameters for KVM backends
	// that cannot run some instructions (auto, on, off; "" means auto).
	Workarounds string
	Console     io.Writer // guest serial output; nil discards it. It may block: the VM buffers in front of it.
	// Disks are the virtio block devices, in order (the guest sees them as
	// vda, vdb, ... when it probes them in that order).
	Disks []DiskConfig
	// ConsoleLimit caps the bytes Console receives (0: no cap); past it the
	// VM writes one note and discards further output.
	ConsoleLimit uint64
	// HugePages backs guest RAM with huge pages: "" (none),
	// HugePagesTransparent or HugePages2M (hugepages.go).
	HugePages string
	// BeforeRun, if set, runs once in Run after every vCPU is created and
	// set up and before any enters the guest: the last moment with the VM
	// fully built, where cmd/vmm installs its sandbox. An error stops the
	// VM with status 1 and that error; no guest instruction runs.
	BeforeRun func() error
}

// validate checks what can be checked without opening KVM.
func (c *Config) validate() error {
	if c.CPUs < 1 {
		return fmt.Errorf("--cpus %d: a VM needs at least one vCPU", c.CPUs)
	}
	if c.CPUs > MaxCPUs {
		return fmt.Errorf("--cpus %d: at most %d vCPUs are supported", c.CPUs, MaxCPUs)
	}
	if c.MemSize < minMemSize {
		return fmt.Errorf("--mem %s is too small: use at least %s", FormatSize(c.MemSize), FormatSize(minMemSize))
	}
	if !ValidBoot(c.Boot) {
		return fmt.Errorf("--boot %q: use %s", c.Boot, strings.Join(BootChoices, ", "))
	}
	if c.MemSize%4096 != 0 {
		return fmt.Errorf("--mem %d bytes is not a multiple of 4 KiB", c.MemSize)
	}
	if err := validHugePages(c.HugePages, c.MemSize); err != nil {
		return err
	}
	if len(c.Disks) > MaxDisks {
		return fmt.Errorf("%d disks: at most %d", len(c.Disks), MaxDisks)
	}
	if c.MemSize > MaxMemSize {
		return fmt.Errorf("--mem %s is more than vmm supports: use at most %s", FormatSize(c.MemSize), FormatSize(MaxMemSize))
	}
	// Guest RAM is mapped with MAP_NORESERVE, so a guest larger than the
	// host would start, then get the VMM killed once it touches enough of
	// it. Refuse it up front.
	if host := hostRAM(); host > 0 && c.MemSize > host {
		return fmt.Errorf("--mem %s is more than this host's %s of RAM: use at most that", FormatSize(c.MemSize), formatApprox(host))
	}
	return nil
}

// hostRAM is the host's total physical memory in bytes (0 if unknown).
func hostRAM() uint64 {
	var si unix.Sysinfo_t
	if err := unix.Sysinfo(&si); err != nil {
		return 0
	}
	return uint64(si.Totalram) * uint64(si.Unit)
}

// formatApprox renders n bytes to one decimal in the largest binary unit.
func formatApprox(n uint64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%d bytes", n)
}
