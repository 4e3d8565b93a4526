//go:build linux

package kvm

import (
	"errors"
	"testing"

	"golang.org/x/sys/unix"
)

// TestVCPUStateRoundTrips sets and reads back each piece of vCPU state.
func TestVCPUStateRoundTrips(t *testing.T) {
	s := openKVM(t)
	mem := guestMem(t, ramSize)
	vm := newVM(t, s, mem)
	if err := vm.CreateIRQChip(); err != nil {
		t.Fatalf("CreateIRQChip: %v", err)
	}
	v := setupRealMode(t, vm)

	regs := Regs{RAX: 1, RBX: 2, RCX: 3, RDX: 4, RSI: 5, RDI: 6, RSP: 7, RBP: 8, R8: 9, R15: 0x15, RIP: 0x42, RFlags: 0x202}
	if err := v.SetRegs(&regs); err != nil {
		t.Fatalf("SetRegs: %v", err)
	}
	if got, err := v.GetRegs(); err != nil || got != regs {
		t.Fatalf("GetRegs = %+v, %v; want %+v", got, err, regs)
	}

	sregs, err := v.GetSregs()
	if err != nil {
		t.Fatalf("GetSregs: %v", err)
	}
	if sregs.CS.Base != codeBase || sregs.CR0&1 != 0 {
		t.Fatalf("sregs CS base %#x CR0 %#x; want real mode at %#x", sregs.CS.Base, sregs.CR0, codeBase)
	}
	if sregs.APICBase&0xfffff000 != 0xfee00000 {
		t.Errorf("APIC base %#x; want 0xfee00000", sregs.APICBase)
	}

	fpu, err := v.GetFPU()
	if err != nil {
		t.Fatalf("GetFPU: %v", err)
	}
	// MXCSR is left alone: on this host KVM_GET_FPU reports it as 0 whatever
	// was set (KVM_GET_XSAVE shows the real value), see docs/check.md.
	fpu.XMM[3][0] = 0xab
	fpu.FCW = 0x27f
	if err := v.SetFPU(&fpu); err != nil {
		t.Fatalf("SetFPU: %v", err)
	}
	if got, err := v.GetFPU(); err != nil || got.XMM[3][0] != 0xab || got.FCW != 0x27f {
		t.Fatalf("GetFPU after SetFPU: xmm3[0] %#x fcw %#x, %v", got.XMM[3][0], got.FCW, err)
	}

	const msrSysenterCS, msrLSTAR = 0x174, 0xc0000082
	n, err := v.SetMSRs([]MSREntry{{Index: msrSysenterCS, Data: 0x10}, {Index: msrLSTAR, Data: 0xffffffff81000000}})
	if err != nil || n != 2 {
		t.Fatalf("SetMSRs = %d, %v; want 2", n, err)
	}
	got, err := v.GetMSRs([]uint32{msrSysenterCS, msrLSTAR})
	if err != nil || len(got) != 2 || got[0].Data != 0x10 || got[1].Data != 0xffffffff81000000 {
		t.Fatalf("GetMSRs = %+v, %v", got, err)
	}
	if got, err := v.GetMSRs([]uint32{msrSysenterCS, 0xdeadbeef}); err == nil || len(got) != 1 {
		t.Errorf("GetMSRs with an unknown MSR = %+v, %v; want 1 entry and an error", got, err)
	}

	supported, err := s.SupportedCPUID()
	if err != nil {
		t.Fatalf("SupportedCPUID: %v", err)
	}
	if err := v.SetCPUID2(supported); err != nil {
		t.Fatalf("SetCPUID2: %v", err)
	}
	back, err := v.GetCPUID2()
	if err != nil || len(back) == 0 || len(back) > len(supported) {
		t.Fatalf("GetCPUID2 = %d entries, %v; want 1..%d", len(back), err, len(supported))
	}
	// KVM may drop entries it does not keep (here 59 set, 56 read back), but
	// leaf 0 must survive unchanged.
	if back[0].Function != 0 || back[0] != supported[0] {
		t.Errorf("GetCPUID2 leaf 0 = %+v; set %+v", back[0], supported[0])
	}

	state, err := v.GetMPState()
	if err != nil || state != MPStateRunnable {
		t.Fatalf("GetMPState = %d, %v; want runnable (BSP)", state, err)
	}
	if err := v.SetMPState(MPStateHalted); err != nil {
		t.Fatalf("SetMPState: %v", err)
	}
	if state, err := v.GetMPState(); err != nil || state != MPStateHalted {
		t.Fatalf("GetMPState = %d, %v; want halted", state, err)
	}
	if err := v.SetMPState(MPStateRunnable); err != nil {
		t.Fatalf("SetMPState: %v", err)
	}

	ev, err := v.GetVCPUEvents()
	if err != nil {
		t.Fatalf("GetVCPUEvents: %v", err)
	}
	ev.NMI.Pending = 1
	ev.Flags = VCPUEventValidNMIPending
	if err := v.SetVCPUEvents(&ev); err != nil {
		t.Fatalf("SetVCPUEvents: %v", err)
	}
	if ev, err := v.GetVCPUEvents(); err != nil || ev.NMI.Pending != 1 {
		t.Fatalf("GetVCPUEvents: nmi pending %d, %v; want 1", ev.NMI.Pending, err)
	}

	// XSAVE legacy area: FCW in word 0, MXCSR in word 6, XMM1 at byte 176,
	// XSTATE_BV at byte 512 (x87|SSE so the values are not "init state").
	xs, err := v.GetXSave()
	if err != nil {
		t.Fatalf("GetXSave: %v", err)
	}
	xs.Region[0], xs.Region[6], xs.Region[176/4], xs.Region[512/4] = 0x37f, 0x1fa0, 9, 3
	if err := v.SetXSave(&xs); err != nil {
		t.Fatalf("SetXSave: %v", err)
	}
	if xs, err := v.GetXSave(); err != nil || xs.Region[6] != 0x1fa0 || xs.Region[176/4] != 9 {
		t.Fatalf("GetXSave after SetXSave: mxcsr %#x xmm1 %#x, %v", xs.Region[6], xs.Region[176/4], err)
	}
	if f, err := v.GetFPU(); err != nil || f.XMM[1][0] != 9 {
		t.Fatalf("GetFPU does not show the XSAVE state: xmm1[0] %#x, %v", f.XMM[1][0], err)
	}
	xcrs, err := v.GetXCRS()
	if err != nil {
		t.Fatalf("GetXCRS: %v", err)
	}
	if xcrs.NrXCRS < 1 || xcrs.XCRs[0].Value&1 == 0 {
		t.Fatalf("XCRS = %d regs, XCR0 %#x; want XCR0 with x87 bit set", xcrs.NrXCRS, xcrs.XCRs[0].Value)
	}
	if err := v.SetXCRS(&xcrs); err != nil {
		t.Fatalf("SetXCRS: %v", err)
	}

	// In real mode with paging off, translation is the identity.
	tr, err := v.Translate(0x1234)
	if err != nil {
		t.Fatalf("Translate: %v", err)
	}
	if tr.Valid != 1 || tr.PhysicalAddress != 0x1234 {
		t.Errorf("Translate(0x1234) = %+v; want valid identity", tr)
	}
}

// TestImmediateExit checks that a set immediate_exit makes KVM_RUN return
// EINTR without entering the guest.
func TestImmediateExit(t *testing.T) {
	s := openKVM(t)
	mem := guestMem(t, ramSize)
	copy(mem[codeBase:], realModeProgram)
	vm := newVM(t, s, mem)
	v := setupRealMode(t, vm)
	r := newRunner(t)
	v.RunData().RequestInterruptWindow = 0
	v.SetImmediateExit(true)
	if v.RunData().ImmediateExit != 1 {
		t.Fatalf("ImmediateExit byte = %d after SetImmediateExit(true)", v.RunData().ImmediateExit)
	}
	var err error
	r.do(func() { err = v.Run() })
	if !errors.Is(err, unix.EINTR) {
		t.Fatalf("Run with immediate_exit = %v; want EINTR", err)
	}
	if regs, _ := v.GetRegs(); regs.RIP != 0 {
		t.Fatalf("guest ran to RIP %#x despite immediate_exit", regs.RIP)
	}
	v.SetImmediateExit(false)
	if reason := r.runToExit(v); reason != ExitIO {
		t.Fatalf("after clearing immediate_exit: exit %s; want KVM_EXIT_IO", ExitReasonName(reason))
	}
}

func TestClosedHandles(t *testing.T) {
	s := openKVM(t)
	vm, err := s.CreateVM()
	if err != nil {
		t.Fatalf("CreateVM: %v", err)
	}
	v, err := vm.CreateVCPU(1)
	if err != nil {
		t.Fatalf("CreateVCPU: %v", err)
	}
	if err := v.Close(); err != nil {
		t.Fatalf("vCPU Close: %v", err)
	}
	if err := v.Close(); err != nil {
		t.Fatalf("second vCPU Close: %v", err)
	}
	if v.IOData() != nil || v.RunData() != nil {
		t.Errorf("closed vCPU still hands out kvm_run memory")
	}
	v.SetImmediateExit(true) // must not crash
	if _, err := v.GetRegs(); !errors.Is(err, unix.EBADF) {
		t.Errorf("GetRegs on closed vCPU = %v; want EBADF", err)
	}
	if err := vm.Close(); err != nil {
		t.Fatalf("VM Close: %v", err)
	}
	if _, err := vm.CreateVCPU(2); err == nil {
		t.Errorf("CreateVCPU on a closed VM succeeded")
	}
	if _, err := vm.CreateVCPU(-1); err == nil {
		t.Errorf("CreateVCPU(-1) succeeded")
	}
}
