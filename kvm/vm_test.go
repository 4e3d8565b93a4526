//go:build linux

package kvm

import (
	"testing"

	"golang.org/x/sys/unix"
)

// TestIRQChipPITAndEventFDs creates the in-kernel interrupt controllers and
// wires eventfds to them the way the virtio devices will.
func TestIRQChipPITAndEventFDs(t *testing.T) {
	s := openKVM(t)
	mem := guestMem(t, ramSize)
	vm := newVM(t, s, mem)
	if err := vm.SetIdentityMapAddr(0xfffbc000); err != nil {
		t.Fatalf("SetIdentityMapAddr: %v", err)
	}
	if err := vm.CreateIRQChip(); err != nil {
		t.Fatalf("CreateIRQChip: %v", err)
	}
	if err := vm.CreateIRQChip(); err == nil {
		t.Errorf("second CreateIRQChip succeeded; the kernel should refuse it")
	}
	if err := vm.CreatePIT2(PITSpeakerDummy); err != nil {
		t.Fatalf("CreatePIT2: %v", err)
	}
	if err := vm.IRQLine(4, true); err != nil {
		t.Fatalf("IRQLine(4, high): %v", err)
	}
	if err := vm.IRQLine(4, false); err != nil {
		t.Fatalf("IRQLine(4, low): %v", err)
	}

	v, err := vm.CreateVCPU(0)
	if err != nil {
		t.Fatalf("CreateVCPU: %v", err)
	}
	defer v.Close()
	if v.ID() != 0 || v.Fd() < 0 {
		t.Fatalf("vCPU id %d fd %d", v.ID(), v.Fd())
	}

	// Routing: the 24 IOAPIC pins as GSI 0-23 plus two MSI routes.
	var routes []IRQRoutingEntry
	for pin := uint32(0); pin < 24; pin++ {
		routes = append(routes, NewIRQChipRoute(pin, IRQChipIOAPIC, pin))
	}
	routes = append(routes, NewMSIRoute(24, 0xfee00000, 0, 0x30), NewMSIRoute(25, 0xfee00000, 0, 0x31))
	if err := vm.SetGSIRouting(routes); err != nil {
		t.Fatalf("SetGSIRouting: %v", err)
	}
	if err := vm.SetGSIRouting([]IRQRoutingEntry{{GSI: 1, Type: 99}}); err == nil {
		t.Errorf("SetGSIRouting accepted routing type 99")
	}
	if err := vm.SetGSIRouting(routes); err != nil { // restore
		t.Fatalf("SetGSIRouting: %v", err)
	}

	// A fresh LAPIC is software-disabled and drops fixed interrupts
	// (SignalMSI returns 0): enable it through the SVR first.
	lapic, err := v.GetLAPIC()
	if err != nil {
		t.Fatalf("GetLAPIC: %v", err)
	}
	if lapic.Get32(0x30)&0xff == 0 {
		t.Errorf("LAPIC version register reads 0; the register page is not laid out as expected")
	}
	if n, err := vm.SignalMSI(&MSI{AddressLo: 0xfee00000, Data: 0x31}); err != nil || n != 0 {
		t.Errorf("SignalMSI to a disabled LAPIC = %d, %v; want 0 (blocked)", n, err)
	}
	lapic.Set32(0xf0, lapic.Get32(0xf0)|0x1ff) // SVR: enable, spurious vector 0xff
	if err := v.SetLAPIC(&lapic); err != nil {
		t.Fatalf("SetLAPIC: %v", err)
	}
	if n, err := vm.SignalMSI(&MSI{AddressLo: 0xfee00000, Data: 0x32}); err != nil || n <= 0 {
		t.Fatalf("SignalMSI to enabled LAPIC = %d, %v", n, err)
	}

	efd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		t.Fatalf("eventfd: %v", err)
	}
	defer unix.Close(efd)
	irqfd := IRQFD{FD: uint32(efd), GSI: 24}
	if err := vm.IRQFD(&irqfd); err != nil {
		t.Fatalf("IRQFD assign: %v", err)
	}
	// Firing it injects the MSI (vector 0x30) into vCPU 0's LAPIC; it stays
	// pending in the IRR since the vCPU has not run.
	if _, err := unix.Write(efd, []byte{1, 0, 0, 0, 0, 0, 0, 0}); err != nil {
		t.Fatalf("eventfd write: %v", err)
	}
	irqfd.Flags = IRQFDFlagDeassign
	if err := vm.IRQFD(&irqfd); err != nil {
		t.Fatalf("IRQFD deassign: %v", err)
	}
	lapic, err = v.GetLAPIC()
	if err != nil {
		t.Fatalf("GetLAPIC: %v", err)
	}
	// IRR: eight 32-bit registers at 0x200, 16 bytes apart.
	for _, vec := range []int{0x30, 0x32} {
		if irr := lapic.Get32(0x200 + 0x10*(vec/32)); irr&(1<<(vec%32)) == 0 {
			t.Errorf("vector %#x not pending in the IRR (%#x)", vec, irr)
		}
	}

	c, err := vm.GetClock()
	if err != nil {
		t.Fatalf("GetClock: %v", err)
	}
	if err := vm.SetClock(&ClockData{Clock: c.Clock + 1000000}); err != nil {
		t.Fatalf("SetClock: %v", err)
	}
	c2, err := vm.GetClock()
	if err != nil || c2.Clock < c.Clock+1000000 {
		t.Fatalf("GetClock after SetClock = %d, %v; want >= %d", c2.Clock, err, c.Clock+1000000)
	}
}

func TestLAPICAccessorsBounds(t *testing.T) {
	var l LAPICState
	if !l.Set32(0x3fc, 0xdeadbeef) || l.Get32(0x3fc) != 0xdeadbeef {
		t.Fatalf("last register round trip failed")
	}
	for _, off := range []int{-1, 0x3fd, 1024, 1 << 30} {
		if l.Set32(off, 1) {
			t.Errorf("Set32(%d) accepted an offset outside the page", off)
		}
		if l.Get32(off) != 0 {
			t.Errorf("Get32(%d) != 0", off)
		}
	}
}
