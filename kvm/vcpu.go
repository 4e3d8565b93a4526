//go:build linux

package kvm

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// VCPU is one virtual CPU: its descriptor and its mapped kvm_run.
//
// KVM requires vCPU ioctls to come from one thread at a time (and runs them
// best from the thread that created the vCPU): keep a VCPU on one goroutine
// that has called runtime.LockOSThread. Only SetImmediateExit may be called
// from elsewhere.
type VCPU struct {
	id  int
	run *Run   // points at the start of runMem
	mem []byte // the kvm_run mapping; nil once closed
	// halted is set when the last Run ended on a signal; only the vCPU's
	// own goroutine touches it.
	halted bool

	descriptor
}

// Close unmaps kvm_run and closes the vCPU. Pointers from RunData, MMIO and
// IOData must not be used afterwards.
func (v *VCPU) Close() error {
	return v.close(func() error {
		v.run = nil
		err := unix.Munmap(v.mem)
		v.mem = nil
		return err
	})
}

// ID is the id the vCPU was created with.
func (v *VCPU) ID() int { return v.id }

// Run enters the guest once (KVM_RUN). It returns the raw errno, unwrapped,
// so callers can compare with unix.EINTR (a signal, e.g. a stop request or
// Go's preemption) or unix.EAGAIN and loop; on nil, RunData().ExitReason
// says why the guest stopped.
//
// While the guest keeps exiting, the calling goroutine keeps its P for the
// whole call (a raw system call, see runOnce): keep GOMAXPROCS above the
// number of vCPUs running, or nothing else runs. After a call that a signal ended (EINTR: a
// halted guest preempted by Go after 10 ms, a stop request), the next call
// blocks the ordinary way and lets the P go, until the guest exits again.
func (v *VCPU) Run() error {
	fd := v.Fd()
	var e unix.Errno
	if v.halted {
		e = runBlocking(fd)
	} else {
		e = runOnce(fd)
	}
	v.halted = e == unix.EINTR
	if e != 0 {
		return e
	}
	return nil
}

// RunData points at the vCPU's kvm_run (valid until Close).
func (v *VCPU) RunData() *Run { return v.run }

// IOData is the data of the current KVM_EXIT_IO: size*count bytes at
// data_offset in the kvm_run mapping. For "in" fill it before the next Run.
// It returns nil (never panics) when data_offset/size/count point outside
// the mapping, which a sane kernel never does; treat nil as a fatal exit.
func (v *VCPU) IOData() []byte {
	if v.run == nil {
		return nil
	}
	_, size, _, count, off := v.run.IO()
	n := uint64(size) * uint64(count)
	if off > uint64(len(v.mem)) || n > uint64(len(v.mem))-off {
		return nil
	}
	return v.mem[off : off+n]
}

// GetRegs reads the general purpose registers.
func (v *VCPU) GetRegs() (Regs, error) {
	var r Regs
	_, e := ioctlPtr(v.Fd(), kvmGetRegs, &r)
	return r, wrap("KVM_GET_REGS", e)
}

// SetRegs writes the general purpose registers.
func (v *VCPU) SetRegs(r *Regs) error {
	_, e := ioctlPtr(v.Fd(), kvmSetRegs, r)
	return wrap("KVM_SET_REGS", e)
}

// GetSregs reads segment, descriptor-table and control registers.
func (v *VCPU) GetSregs() (Sregs, error) {
	var s Sregs
	_, e := ioctlPtr(v.Fd(), kvmGetSregs, &s)
	return s, wrap("KVM_GET_SREGS", e)
}

// SetSregs writes segment, descriptor-table and control registers.
func (v *VCPU) SetSregs(s *Sregs) error {
	_, e := ioctlPtr(v.Fd(), kvmSetSregs, s)
	return wrap("KVM_SET_SREGS", e)
}

// GetFPU reads x87/SSE state.
func (v *VCPU) GetFPU() (FPU, error) {
	var f FPU
	_, e := ioctlPtr(v.Fd(), kvmGetFPU, &f)
	return f, wrap("KVM_GET_FPU", e)
}

// SetFPU writes x87/SSE state.
func (v *VCPU) SetFPU(f *FPU) error {
	_, e := ioctlPtr(v.Fd(), kvmSetFPU, f)
	return wrap("KVM_SET_FPU", e)
}

// maxMSRs bounds one KVM_GET/SET_MSRS call (the kernel's own limit is
// KVM_MAX_MSR_ENTRIES, 256).
const maxMSRs = 256

// msrBuffer lays out struct kvm_msrs as uint64 words: one header word
// (nmsrs, pad), then two per entry (index|reserved, data).
func msrBuffer(entries []MSREntry) []uint64 {
	buf := make([]uint64, 1+2*len(entries))
	buf[0] = uint64(len(entries))
	for i, e := range entries {
		buf[1+2*i] = uint64(e.Index)
		buf[2+2*i] = e.Data
	}
	return buf
}

// GetMSRs reads the MSRs in indices. If KVM stops early at an MSR it does
// not know, the entries read so far come back with an error naming it.
func (v *VCPU) GetMSRs(indices []uint32) ([]MSREntry, error) {
	if len(indices) > maxMSRs {
		return nil, fmt.Errorf("kvm: KVM_GET_MSRS: %d MSRs in one call, at most %d", len(indices), maxMSRs)
	}
	entries := make([]MSREntry, len(indices))
	for i, idx := range indices {
		entries[i].Index = idx
	}
	if len(entries) == 0 {
		return entries, nil
	}
	buf := msrBuffer(entries)
	r, e := ioctlPtr(v.Fd(), kvmGetMSRs, &buf[0])
	if e != 0 {
		return nil, wrap("KVM_GET_MSRS", e)
	}
	n := int(r)
	for i := 0; i < n && i < len(entries); i++ {
		entries[i].Data = buf[2+2*i]
	}
	if n < len(entries) {
		return entries[:n], fmt.Errorf("kvm: KVM_GET_MSRS read %d of %d MSRs: MSR %#x is not supported", n, len(entries), entries[n].Index)
	}
	return entries, nil
}

// SetMSRs writes entries and returns how many KVM accepted; it stops at the
// first MSR it rejects.
func (v *VCPU) SetMSRs(entries []MSREntry) (int, error) {
	if len(entries) > maxMSRs {
		return 0, fmt.Errorf("kvm: KVM_SET_MSRS: %d MSRs in one call, at most %d", len(entries), maxMSRs)
	}
	if len(entries) == 0 {
		return 0, nil
	}
	buf := msrBuffer(entries)
	r, e := ioctlPtr(v.Fd(), kvmSetMSRs, &buf[0])
	if e != 0 {
		return 0, wrap("KVM_SET_MSRS", e)
	}
	return int(r), nil
}

// SetCPUID2 sets what CPUID reports to the guest. Call it before the first
// Run; newer kernels refuse changes afterwards.
func (v *VCPU) SetCPUID2(entries []CPUIDEntry2) error {
	if len(entries) > maxCPUIDEntries {
		return fmt.Errorf("kvm: KVM_SET_CPUID2: %d entries, at most %d", len(entries), maxCPUIDEntries)
	}
	buf := encodeCPUID(entries)
	_, e := ioctlPtr(v.Fd(), kvmSetCPUID2, &buf[0])
	return wrap("KVM_SET_CPUID2", e)
}

// GetCPUID2 returns the CPUID entries set on this vCPU.
func (v *VCPU) GetCPUID2() ([]CPUIDEntry2, error) {
	return getCPUID(v.Fd(), kvmGetCPUID2, "KVM_GET_CPUID2")
}

// GetLAPIC reads the in-kernel local APIC's register page.
func (v *VCPU) GetLAPIC() (LAPICState, error) {
	var l LAPICState
	_, e := ioctlPtr(v.Fd(), kvmGetLAPIC, &l)
	return l, wrap("KVM_GET_LAPIC", e)
}

// SetLAPIC writes the in-kernel local APIC's register page.
func (v *VCPU) SetLAPIC(l *LAPICState) error {
	_, e := ioctlPtr(v.Fd(), kvmSetLAPIC, l)
	return wrap("KVM_SET_LAPIC", e)
}

// GetMPState returns the vCPU's multiprocessing state (MPState*).
func (v *VCPU) GetMPState() (uint32, error) {
	var s mpState
	_, e := ioctlPtr(v.Fd(), kvmGetMPState, &s)
	return s.State, wrap("KVM_GET_MP_STATE", e)
}

// SetMPState sets the vCPU's multiprocessing state (MPState*).
func (v *VCPU) SetMPState(state uint32) error {
	s := mpState{State: state}
	_, e := ioctlPtr(v.Fd(), kvmSetMPState, &s)
	return wrap("KVM_SET_MP_STATE", e)
}

// GetVCPUEvents reads pending/injected events.
func (v *VCPU) GetVCPUEvents() (VCPUEvents, error) {
	var ev VCPUEvents
	_, e := ioctlPtr(v.Fd(), kvmGetVCPUEvents, &ev)
	return ev, wrap("KVM_GET_VCPU_EVENTS", e)
}

// SetVCPUEvents writes pending/injected events (e.g. to inject an exception).
func (v *VCPU) SetVCPUEvents(ev *VCPUEvents) error {
	_, e := ioctlPtr(v.Fd(), kvmSetVCPUEvents, ev)
	return wrap("KVM_SET_VCPU_EVENTS", e)
}

// GetXSave reads the legacy 4 KiB XSAVE area.
func (v *VCPU) GetXSave() (XSave, error) {
	var x XSave
	_, e := ioctlPtr(v.Fd(), kvmGetXSave, &x)
	return x, wrap("KVM_GET_XSAVE", e)
}

// SetXSave writes the legacy 4 KiB XSAVE area.
func (v *VCPU) SetXSave(x *XSave) error {
	_, e := ioctlPtr(v.Fd(), kvmSetXSave, x)
	return wrap("KVM_SET_XSAVE", e)
}

// GetXCRS reads the extended control registers (XCR0).
func (v *VCPU) GetXCRS() (XCRS, error) {
	var x XCRS
	_, e := ioctlPtr(v.Fd(), kvmGetXCRS, &x)
	return x, wrap("KVM_GET_XCRS", e)
}

// SetXCRS writes the extended control registers.
func (v *VCPU) SetXCRS(x *XCRS) error {
	_, e := ioctlPtr(v.Fd(), kvmSetXCRS, x)
	return wrap("KVM_SET_XCRS", e)
}

// Translate walks the guest's page tables for gva (KVM_TRANSLATE).
func (v *VCPU) Translate(gva uint64) (Translation, error) {
	t := Translation{LinearAddress: gva}
	_, e := ioctlPtr(v.Fd(), kvmTranslate, &t)
	return t, wrap(fmt.Sprintf("KVM_TRANSLATE(%#x)", gva), e)
}
