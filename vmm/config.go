package vmm

import (
	"fmt"
	"io"
)

// MaxCPUs caps --cpus: the MP table and topology leaves are built for it.
const MaxCPUs = 32

// Config describes one VM. Kernel and Initrd are file contents; the names
// appear in error messages.
type Config struct {
	Device     string // KVM device, normally /dev/kvm
	Kernel     []byte
	KernelName string
	Initrd     []byte
	InitrdName string
	Cmdline    string
	MemSize    uint64
	CPUs       int
	TestExit   bool // attach the test device (exit status port, scratch, test irqfd)
	// Workarounds says whether to add kernel parameters for KVM backends
	// that cannot run some instructions (auto, on, off; "" means auto).
	Workarounds string
	Console     io.Writer // guest serial output; nil discards it
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
	if c.MemSize%4096 != 0 {
		return fmt.Errorf("--mem %d bytes is not a multiple of 4 KiB", c.MemSize)
	}
	return nil
}
