//go:build linux

package kvm

import (
	"encoding/binary"
	"testing"
)

func TestRunAccessorsDecodeUnion(t *testing.T) {
	var r Run
	u := r.Exit[:]
	binary.LittleEndian.PutUint32(u, InternalErrorEmulation)
	binary.LittleEndian.PutUint32(u[4:], 1000) // hostile ndata
	for i := 0; i < 16; i++ {
		binary.LittleEndian.PutUint64(u[8+8*i:], uint64(i))
	}
	sub, data := r.InternalError()
	if sub != InternalErrorEmulation || len(data) != 16 || data[15] != 15 {
		t.Fatalf("InternalError = %d, %v; want suberror 1 and 16 clamped words", sub, data)
	}

	r = Run{}
	binary.LittleEndian.PutUint64(u, 0x20010)
	u[8] = 0x7e
	binary.LittleEndian.PutUint32(u[16:], 99) // hostile length
	u[20] = 1
	addr, d, n, w := r.MMIO()
	if addr != 0x20010 || d[0] != 0x7e || n != 8 || !w {
		t.Fatalf("MMIO = %#x %v %d %v", addr, d, n, w)
	}
	d[1] = 0x55
	if r.Exit[9] != 0x55 {
		t.Fatalf("MMIO data does not alias kvm_run")
	}

	r = Run{}
	binary.LittleEndian.PutUint64(u, 0x80000021)
	binary.LittleEndian.PutUint32(u[8:], 3)
	if reason, cpu := r.FailEntry(); reason != 0x80000021 || cpu != 3 {
		t.Fatalf("FailEntry = %#x, %d", reason, cpu)
	}
	binary.LittleEndian.PutUint32(u, SystemEventReset)
	binary.LittleEndian.PutUint64(u[8:], 7)
	if typ, flags := r.SystemEvent(); typ != SystemEventReset || flags != 7 {
		t.Fatalf("SystemEvent = %d, %d", typ, flags)
	}
}

func TestExitAndCapNames(t *testing.T) {
	for r, want := range map[uint32]string{ExitIO: "KVM_EXIT_IO", ExitHLT: "KVM_EXIT_HLT",
		ExitInternalError: "KVM_EXIT_INTERNAL_ERROR", 999: "KVM_EXIT_999"} {
		if got := ExitReasonName(r); got != want {
			t.Errorf("ExitReasonName(%d) = %q; want %q", r, got, want)
		}
	}
	if CapIOEventFD.String() != "IOEVENTFD" || Cap(5000).String() != "CAP_5000" {
		t.Errorf("Cap names: %q %q", CapIOEventFD, Cap(5000))
	}
	seen := map[string]Cap{}
	for c, n := range capNames {
		if !capNamePattern.MatchString(n) {
			t.Errorf("cap %d is named %q: want the header's upper-case name after KVM_CAP_", c, n)
		}
		if o, dup := seen[n]; dup {
			t.Errorf("caps %d and %d are both named %q", o, c, n)
		}
		seen[n] = c
	}
}

// TestIODataBounds feeds IOData offsets a broken kernel could produce.
func TestIODataBounds(t *testing.T) {
	mem := make([]byte, 12288)
	v := &VCPU{mem: mem, descriptor: descriptor{fd: -1}}
	v.run = &Run{}
	set := func(size uint8, count uint32, off uint64) {
		u := v.run.Exit[:]
		u[1] = size
		binary.LittleEndian.PutUint32(u[4:], count)
		binary.LittleEndian.PutUint64(u[8:], off)
	}
	set(4, 2, 4096)
	if got := v.IOData(); len(got) != 8 {
		t.Fatalf("IOData len %d; want 8", len(got))
	}
	for _, c := range []struct {
		size  uint8
		count uint32
		off   uint64
	}{{1, 1, 12288}, {4, 1, 12285}, {255, 1 << 31, 4096}, {1, 1, ^uint64(0)}, {4, 4, ^uint64(0) - 3}} {
		set(c.size, c.count, c.off)
		if got := v.IOData(); got != nil {
			t.Errorf("IOData(size %d count %d off %#x) = %d bytes; want nil", c.size, c.count, c.off, len(got))
		}
	}
}
