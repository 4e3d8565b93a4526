//go:build linux

package kvm

import (
	"errors"
	"os"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"vmm/guestmem"
	"vmm/internal/testutil"
)

// openKVM opens /dev/kvm or skips when this machine has none.
func openKVM(t *testing.T) *System {
	t.Helper()
	if _, err := os.Stat(DefaultDevice); errors.Is(err, os.ErrNotExist) {
		testutil.Missing(t, "no /dev/kvm on this machine")
	}
	s, err := Open(DefaultDevice)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// guestMem maps size bytes of anonymous memory outside the Go heap.
func guestMem(t *testing.T, size int) []byte {
	t.Helper()
	mem, err := unix.Mmap(-1, 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_NORESERVE)
	if err != nil {
		t.Fatalf("mmap guest memory: %v", err)
	}
	t.Cleanup(func() { unix.Munmap(mem) })
	return mem
}

// newVM creates a VM with size bytes of RAM at guest physical 0.
func newVM(t *testing.T, s *System, mem []byte) *VM {
	t.Helper()
	vm, err := s.CreateVM()
	if err != nil {
		t.Fatalf("CreateVM: %v", err)
	}
	t.Cleanup(func() { vm.Close() })
	if err := vm.SetTSSAddr(0xfffbd000); err != nil {
		t.Fatalf("SetTSSAddr: %v", err)
	}
	if err := vm.SetUserMemoryRegion(&UserspaceMemoryRegion{Slot: 0, GuestPhysAddr: 0,
		MemorySize: uint64(len(mem)), UserspaceAddr: uint64(guestmem.AddressOf(mem))}); err != nil {
		t.Fatalf("SetUserMemoryRegion: %v", err)
	}
	return vm
}

// runner drives one vCPU on a locked OS thread, the way the VMM must.
// A watchdog turns a guest that never exits into a test failure instead of a
// hung test binary: it sets immediate_exit and signals the vCPU's thread.
type runner struct {
	t    *testing.T
	req  chan func()
	done chan struct{}
	tid  atomic.Int32
}

func newRunner(t *testing.T) *runner {
	r := &runner{t: t, req: make(chan func()), done: make(chan struct{})}
	ready := make(chan struct{})
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		r.tid.Store(int32(unix.Gettid()))
		close(ready)
		for f := range r.req {
			f()
			r.done <- struct{}{}
		}
	}()
	<-ready
	t.Cleanup(func() { close(r.req) })
	return r
}

// do runs f on the runner's thread.
func (r *runner) do(f func()) {
	r.req <- f
	<-r.done
}

// runToExit enters the guest until KVM_RUN returns something other than
// EINTR, and returns the exit reason. It gives up after a generous timeout.
func (r *runner) runToExit(v *VCPU) uint32 {
	r.t.Helper()
	var stopped atomic.Bool
	timer := time.AfterFunc(20*time.Second, func() {
		stopped.Store(true)
		v.SetImmediateExit(true)
		unix.Tgkill(unix.Getpid(), int(r.tid.Load()), unix.SIGURG)
	})
	defer timer.Stop()
	var err error
	r.do(func() {
		for {
			err = v.Run()
			if err == unix.EINTR && !stopped.Load() {
				continue
			}
			return
		}
	})
	if stopped.Load() {
		v.SetImmediateExit(false)
		r.t.Fatalf("guest did not exit within the watchdog timeout (last error %v)", err)
	}
	if err != nil {
		r.t.Fatalf("KVM_RUN: %v", err)
	}
	return v.RunData().ExitReason
}

func TestAPIVersionAndExtensions(t *testing.T) {
	s := openKVM(t)
	v, err := s.APIVersion()
	if err != nil || v != APIVersion12 {
		t.Fatalf("APIVersion = %d, %v; want 12", v, err)
	}
	for _, c := range []Cap{CapIRQChip, CapUserMemory, CapSetTSSAddr, CapIOEventFD, CapIRQFD,
		CapPIT2, CapMPState, CapVCPUEvents, CapImmediateExit, CapIRQRouting, CapSignalMSI} {
		n, err := s.CheckExtension(c)
		if err != nil {
			t.Errorf("CheckExtension(%v): %v", c, err)
		} else if n <= 0 {
			t.Errorf("CheckExtension(%v) = %d; this VMM needs it", c, n)
		}
	}
	nv, err := s.CheckExtension(CapMaxVCPUs)
	if err != nil || nv < 1 {
		t.Errorf("CheckExtension(MAX_VCPUS) = %d, %v", nv, err)
	}
	if n, err := s.CheckExtension(Cap(100000)); err != nil || n != 0 {
		t.Errorf("unknown capability: got %d, %v; want 0, nil", n, err)
	}
	size, err := s.VCPUMmapSize()
	if err != nil || size < 4096 {
		t.Fatalf("VCPUMmapSize = %d, %v", size, err)
	}
	t.Logf("API %d, max vCPUs %d, vCPU mmap size %d", v, nv, size)
}

func TestSupportedCPUIDAndMSRList(t *testing.T) {
	s := openKVM(t)
	cpuid, err := s.SupportedCPUID()
	if err != nil {
		t.Fatalf("SupportedCPUID: %v", err)
	}
	var leaf0 *CPUIDEntry2
	for i := range cpuid {
		if cpuid[i].Function == 0 {
			leaf0 = &cpuid[i]
		}
	}
	if leaf0 == nil || leaf0.EAX == 0 {
		t.Fatalf("SupportedCPUID has no usable leaf 0 among %d entries", len(cpuid))
	}
	vendor := string([]byte{byte(leaf0.EBX), byte(leaf0.EBX >> 8), byte(leaf0.EBX >> 16), byte(leaf0.EBX >> 24),
		byte(leaf0.EDX), byte(leaf0.EDX >> 8), byte(leaf0.EDX >> 16), byte(leaf0.EDX >> 24),
		byte(leaf0.ECX), byte(leaf0.ECX >> 8), byte(leaf0.ECX >> 16), byte(leaf0.ECX >> 24)})
	t.Logf("%d CPUID entries, vendor %q, max basic leaf %#x", len(cpuid), vendor, leaf0.EAX)

	msrs, err := s.MSRIndexList()
	if err != nil {
		t.Fatalf("MSRIndexList: %v", err)
	}
	found := false
	for _, m := range msrs {
		if m == 0xc0000082 { // LSTAR: always saved/restored on x86-64 (EFER lives in sregs)
			found = true
		}
	}
	if !found {
		t.Errorf("MSRIndexList (%d entries) lacks LSTAR 0xc0000082", len(msrs))
	}
}

func TestOpenErrors(t *testing.T) {
	_, err := Open("/nonexistent/kvm")
	if !errors.Is(err, unix.ENOENT) {
		t.Fatalf("Open(missing) = %v; want ENOENT wrapped", err)
	}
}

// TestOpenRefusesOtherNodes: Open checks the node before opening it, so a
// wrong --device is named at once (before the fix /dev/null got as far as
// "KVM_GET_VCPU_MMAP_SIZE: inappropriate ioctl for device") and a device
// with side effects on open is never opened.
func TestOpenRefusesOtherNodes(t *testing.T) {
	dir := t.TempDir()
	fifo := dir + "/fifo"
	if err := unix.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]string{
		"/dev/null": "character device 1:3",
		dir:         "a directory",
		fifo:        "a named pipe",
	} {
		_, err := Open(path)
		if !errors.Is(err, ErrNotKVM) || !strings.Contains(err.Error(), want) {
			t.Errorf("Open(%s) = %v; want ErrNotKVM saying %q", path, err, want)
		}
	}
}
