//go:build linux

package kvm

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// VM is one virtual machine's file descriptor: memory slots, the in-kernel
// irqchip and PIT, eventfd wiring, and vCPU creation.
type VM struct {
	descriptor
	runSize int // kvm_run mapping size, from KVM_GET_VCPU_MMAP_SIZE
}

// Close closes the VM descriptor. The kernel frees the VM once its vCPUs
// are closed too.
func (vm *VM) Close() error { return vm.close(nil) }

// CheckExtension asks the VM rather than the system (KVM_CAP_CHECK_EXTENSION_VM);
// some answers, such as max vCPUs, can differ per VM.
func (vm *VM) CheckExtension(c Cap) (int, error) {
	return checkExtension(vm.Fd(), c)
}

// CreateVCPU creates vCPU id (its initial APIC id) and maps its kvm_run.
func (vm *VM) CreateVCPU(id int) (*VCPU, error) {
	if id < 0 {
		return nil, fmt.Errorf("kvm: vCPU id %d is negative", id)
	}
	r, e := ioctlVal(vm.Fd(), kvmCreateVCPU, uintptr(id))
	if e != 0 {
		return nil, wrap(fmt.Sprintf("KVM_CREATE_VCPU(%d)", id), e)
	}
	fd := int(r)
	mem, err := unix.Mmap(fd, 0, vm.runSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("kvm: mmap kvm_run of vCPU %d (%d bytes): %w", id, vm.runSize, err)
	}
	return newVCPU(fd, id, mem)
}

// SetUserMemoryRegion creates, moves or (MemorySize 0) deletes a memory slot.
func (vm *VM) SetUserMemoryRegion(r *UserspaceMemoryRegion) error {
	_, e := ioctlPtr(vm.Fd(), kvmSetUserMemoryRegion, r)
	if e != 0 {
		return wrap(fmt.Sprintf("KVM_SET_USER_MEMORY_REGION(slot %d, gpa %#x, size %#x)", r.Slot, r.GuestPhysAddr, r.MemorySize), e)
	}
	return nil
}

// SetTSSAddr places the three-page TSS region Intel VMX needs for real
// mode emulation; it must be guest-physical space no memory slot uses.
func (vm *VM) SetTSSAddr(addr uint32) error {
	_, e := ioctlVal(vm.Fd(), kvmSetTSSAddr, uintptr(addr))
	return wrap("KVM_SET_TSS_ADDR", e)
}

// SetIdentityMapAddr places the one-page EPT identity map (Intel only),
// outside any memory slot.
func (vm *VM) SetIdentityMapAddr(addr uint64) error {
	_, e := ioctlPtr(vm.Fd(), kvmSetIdentityMapAddr, &addr)
	return wrap("KVM_SET_IDENTITY_MAP_ADDR", e)
}

// CreateIRQChip creates the in-kernel PIC pair, IOAPIC and per-vCPU LAPICs.
// Call it before creating vCPUs.
func (vm *VM) CreateIRQChip() error {
	_, e := ioctlVal(vm.Fd(), kvmCreateIRQChip, 0)
	return wrap("KVM_CREATE_IRQCHIP", e)
}

// CreatePIT2 creates the in-kernel i8254 PIT (flags: PITSpeakerDummy).
func (vm *VM) CreatePIT2(flags uint32) error {
	cfg := PITConfig{Flags: flags}
	_, e := ioctlPtr(vm.Fd(), kvmCreatePIT2, &cfg)
	return wrap("KVM_CREATE_PIT2", e)
}

// IRQLine sets the level of an in-kernel irqchip input (a GSI).
func (vm *VM) IRQLine(irq uint32, level bool) error {
	l := irqLevel{IRQ: irq}
	if level {
		l.Level = 1
	}
	_, e := ioctlPtr(vm.Fd(), kvmIRQLine, &l)
	return wrap(fmt.Sprintf("KVM_IRQ_LINE(%d)", irq), e)
}

// IOEventFD registers (or with IOEventFDFlagDeassign removes) an ioeventfd.
func (vm *VM) IOEventFD(e *IOEventFD) error {
	_, errno := ioctlPtr(vm.Fd(), kvmIOEventFD, e)
	if errno != 0 {
		return wrap(fmt.Sprintf("KVM_IOEVENTFD(addr %#x, len %d, flags %#x)", e.Addr, e.Len, e.Flags), errno)
	}
	return nil
}

// IRQFD registers (or with IRQFDFlagDeassign removes) an irqfd.
func (vm *VM) IRQFD(e *IRQFD) error {
	_, errno := ioctlPtr(vm.Fd(), kvmIRQFD, e)
	if errno != 0 {
		return wrap(fmt.Sprintf("KVM_IRQFD(fd %d, gsi %d, flags %#x)", e.FD, e.GSI, e.Flags), errno)
	}
	return nil
}

// irqRoutingEntryWords is the size of kvm_irq_routing_entry in 32-bit words.
const irqRoutingEntryWords = 12

// maxRoutingEntries is KVM_MAX_IRQ_ROUTES; the kernel rejects more.
const maxRoutingEntries = 4096

// SetGSIRouting replaces the whole GSI routing table. It is not additive:
// pass every route the VM needs, including the default irqchip ones.
func (vm *VM) SetGSIRouting(entries []IRQRoutingEntry) error {
	if len(entries) > maxRoutingEntries {
		return fmt.Errorf("kvm: KVM_SET_GSI_ROUTING: %d entries, the kernel allows %d", len(entries), maxRoutingEntries)
	}
	buf := make([]uint32, 2+len(entries)*irqRoutingEntryWords)
	buf[0] = uint32(len(entries))
	for i, e := range entries {
		w := buf[2+i*irqRoutingEntryWords:]
		w[0], w[1], w[2], w[3] = e.GSI, e.Type, e.Flags, e.Pad
		copy(w[4:12], e.U[:])
	}
	_, e := ioctlPtr(vm.Fd(), kvmSetGSIRouting, &buf[0])
	return wrap("KVM_SET_GSI_ROUTING", e)
}

// SignalMSI injects an MSI directly. It returns >0 when delivered, 0 when
// the guest blocked it.
func (vm *VM) SignalMSI(m *MSI) (int, error) {
	r, e := ioctlPtr(vm.Fd(), kvmSignalMSI, m)
	if e != 0 {
		return 0, wrap("KVM_SIGNAL_MSI", e)
	}
	return int(r), nil
}

// GetClock reads the VM's kvmclock (KVM_GET_CLOCK).
func (vm *VM) GetClock() (ClockData, error) {
	var c ClockData
	_, e := ioctlPtr(vm.Fd(), kvmGetClock, &c)
	return c, wrap("KVM_GET_CLOCK", e)
}

// SetClock sets the VM's kvmclock (KVM_SET_CLOCK).
func (vm *VM) SetClock(c *ClockData) error {
	_, e := ioctlPtr(vm.Fd(), kvmSetClock, c)
	return wrap("KVM_SET_CLOCK", e)
}
