package vmm

import (
	"fmt"
	"strings"

	"vmm/guestmem"
)

// placeInitrd picks the page-aligned address for an initrd of size bytes:
// as high as possible below both the kernel's initrd_addr_max and the top
// of low RAM, and above the kernel.
func placeInitrd(k *Kernel, mem *guestmem.Memory, size uint64, name string) (uint64, error) {
	top := mem.LowEnd()
	if lim := k.InitrdAddrMax + 1; lim != 0 && lim < top {
		top = lim
	}
	if size > top {
		return 0, fmt.Errorf("initrd %s (%s) is larger than guest RAM below %#x: raise --mem", name, FormatSize(size), top)
	}
	addr := (top - size) &^ 0xfff
	if addr < k.End() {
		return 0, fmt.Errorf("initrd %s (%s) does not fit between the kernel (ends at %#x) and %#x: raise --mem",
			name, FormatSize(size), k.End(), top)
	}
	return addr, nil
}

// loadGuest writes the kernel, command line, initrd and boot structures into
// guest RAM for the kernel's boot protocol.
func loadGuest(mem *guestmem.Memory, k *Kernel, cfg *Config) error {
	if k.End() > mem.LowEnd() {
		return fmt.Errorf("kernel %s needs RAM up to %#x but the guest has %s: raise --mem",
			cfg.KernelName, k.End(), FormatSize(mem.Size()))
	}
	for _, s := range k.Segments {
		if k.Protocol == BootMultiboot {
			if r, ok := overlappingBootStructure(multibootBootStructures, s.Addr, s.MemSize); ok {
				return fmt.Errorf("kernel %s has a segment at %#x-%#x over %s (%#x-%#x), which the VMM writes at boot: link the kernel elsewhere",
					cfg.KernelName, s.Addr, s.Addr+s.MemSize, r.what, r.start, r.end)
			}
		} else if s.Addr < highMemStart {
			return fmt.Errorf("kernel %s has a segment at %#x, below 1 MiB where the VMM keeps boot structures", cfg.KernelName, s.Addr)
		}
	}
	if err := k.load(mem); err != nil {
		return fmt.Errorf("kernel %s: %w", cfg.KernelName, err)
	}
	if strings.IndexByte(cfg.Cmdline, 0) >= 0 {
		return fmt.Errorf("--cmdline contains a NUL byte")
	}
	cmdline := cfg.Cmdline
	if k.Protocol == BootMultiboot {
		cmdline = multibootCmdline(cfg.KernelName, cfg.Cmdline)
		if uint64(len(cmdline)) > k.CmdlineMax {
			return fmt.Errorf("the multiboot command line (kernel name, a space, --cmdline) is %d bytes; at most %d fit", len(cmdline), k.CmdlineMax)
		}
	}
	if uint64(len(cmdline)) > k.CmdlineMax {
		return fmt.Errorf("--cmdline is %d bytes; kernel %s accepts at most %d", len(cfg.Cmdline), cfg.KernelName, k.CmdlineMax)
	}
	if err := mem.Write(cmdlineAddr, append([]byte(cmdline), 0)); err != nil {
		return err
	}
	var initrdAddr, initrdSize uint64
	if len(cfg.Initrd) > 0 {
		var err error
		initrdSize = uint64(len(cfg.Initrd))
		if initrdAddr, err = placeInitrd(k, mem, initrdSize, cfg.InitrdName); err != nil {
			return err
		}
		if err := mem.Write(initrdAddr, cfg.Initrd); err != nil {
			return err
		}
	}
	e820 := e820Map(mem)
	if err := writeGDT(mem); err != nil {
		return err
	}
	mp, err := buildMPTable(cfg.CPUs)
	if err != nil {
		return err
	}
	if err := mem.Write(mpTableAddr, mp); err != nil {
		return err
	}
	if err := writeACPI(mem, cfg.CPUs, len(cfg.Disks)); err != nil {
		return err
	}
	switch k.Protocol {
	case BootPVH:
		return writePVHInfo(mem, e820, cmdlineAddr, acpiRSDPAddr, initrdAddr, initrdSize)
	case BootMultiboot:
		return writeMultibootInfo(mem, e820, initrdAddr, initrdSize, cfg.InitrdName)
	default:
		if err := writeIdentityPageTables(mem); err != nil {
			return err
		}
		return writeZeroPage(mem, k, e820, cmdlineAddr, initrdAddr, initrdSize)
	}
}
