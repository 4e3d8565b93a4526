//go:build linux

package kvm

import (
	"testing"

	"golang.org/x/sys/unix"
)

// Real-mode test program, loaded at guest physical 0x1000 and run with
// CS base 0x1000 (selector 0x100), IP 0:
//
//	mov dx, 0x3f8 ; mov al, 'A' ; out dx, al      -> KVM_EXIT_IO (out, 1 byte)
//	mov dx, 0x500 ; out dx, al                    -> ioeventfd: no exit
//	mov dx, 0x3f8 ; mov ax, 0x4b4f ; out dx, ax   -> KVM_EXIT_IO (out, 2 bytes)
//	in al, dx                                     -> KVM_EXIT_IO (in): VMM supplies 0x7e
//	mov bx, 0x2000 ; mov ds, bx ; mov [0x10], al  -> KVM_EXIT_MMIO write of 0x7e at 0x20010
//	mov al, [0x20]                                -> KVM_EXIT_MMIO read at 0x20020: VMM supplies 0x33
//	out 0x80, al                                  -> KVM_EXIT_IO with the value read
//	hlt                                           -> KVM_EXIT_HLT
var realModeProgram = []byte{
	0xba, 0xf8, 0x03, // mov dx, 0x3f8
	0xb0, 'A', // mov al, 'A'
	0xee,             // out dx, al
	0xba, 0x00, 0x05, // mov dx, 0x500
	0xee,             // out dx, al
	0xba, 0xf8, 0x03, // mov dx, 0x3f8
	0xb8, 0x4f, 0x4b, // mov ax, 0x4b4f
	0xef,             // out dx, ax
	0xec,             // in al, dx
	0xbb, 0x00, 0x20, // mov bx, 0x2000
	0x8e, 0xdb, // mov ds, bx
	0xa2, 0x10, 0x00, // mov [0x10], al
	0xa0, 0x20, 0x00, // mov al, [0x20]
	0xe6, 0x80, // out 0x80, al
	0xf4, // hlt
}

const (
	codeBase = 0x1000
	ramSize  = 0x10000 // 64 KiB: 0x20000 and up is unmapped, so accesses there are MMIO
)

// setupRealMode creates vCPU 0 starting at codeBase:0 in real mode.
func setupRealMode(t *testing.T, vm *VM) *VCPU {
	t.Helper()
	v, err := vm.CreateVCPU(0)
	if err != nil {
		t.Fatalf("CreateVCPU: %v", err)
	}
	t.Cleanup(func() { v.Close() })
	sregs, err := v.GetSregs()
	if err != nil {
		t.Fatalf("GetSregs: %v", err)
	}
	sregs.CS.Base, sregs.CS.Selector = codeBase, codeBase>>4
	if err := v.SetSregs(&sregs); err != nil {
		t.Fatalf("SetSregs: %v", err)
	}
	if err := v.SetRegs(&Regs{RIP: 0, RFlags: 2}); err != nil {
		t.Fatalf("SetRegs: %v", err)
	}
	return v
}

func TestRealModeIOAndMMIOExits(t *testing.T) {
	s := openKVM(t)
	mem := guestMem(t, ramSize)
	copy(mem[codeBase:], realModeProgram)
	vm := newVM(t, s, mem)
	v := setupRealMode(t, vm)
	r := newRunner(t)

	efd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		t.Fatalf("eventfd: %v", err)
	}
	defer unix.Close(efd)
	ioe := IOEventFD{Addr: 0x500, Len: 1, FD: int32(efd), Flags: IOEventFDFlagPIO}
	if err := vm.IOEventFD(&ioe); err != nil {
		t.Fatalf("IOEventFD: %v", err)
	}

	wantIO := func(dir uint8, size uint8, port uint16, data []byte) {
		t.Helper()
		if reason := r.runToExit(v); reason != ExitIO {
			regs, _ := v.GetRegs()
			t.Fatalf("exit %s at RIP %#x; want KVM_EXIT_IO on port %#x", ExitReasonName(reason), regs.RIP, port)
		}
		gd, gs, gp, gc, _ := v.RunData().IO()
		if gd != dir || gs != size || gp != port || gc != 1 {
			t.Fatalf("IO exit dir %d size %d port %#x count %d; want dir %d size %d port %#x count 1", gd, gs, gp, gc, dir, size, port)
		}
		buf := v.IOData()
		if len(buf) != int(size) {
			t.Fatalf("IOData has %d bytes; want %d", len(buf), size)
		}
		if dir == IODirectionOut {
			if string(buf) != string(data) {
				t.Fatalf("out data %q; want %q", buf, data)
			}
		} else {
			copy(buf, data)
		}
	}

	wantIO(IODirectionOut, 1, 0x3f8, []byte("A"))
	// The ioeventfd port write must not have exited, yet must have counted.
	wantIO(IODirectionOut, 2, 0x3f8, []byte("OK"))
	var cnt [8]byte
	if n, err := unix.Read(efd, cnt[:]); err != nil || n != 8 || le.Uint64(cnt[:]) != 1 {
		t.Fatalf("ioeventfd read = %d, %v, count %d; want one signal", n, err, le.Uint64(cnt[:]))
	}
	wantIO(IODirectionIn, 1, 0x3f8, []byte{0x7e})

	if reason := r.runToExit(v); reason != ExitMMIO {
		t.Fatalf("exit %s; want KVM_EXIT_MMIO (write)", ExitReasonName(reason))
	}
	addr, data, n, isWrite := v.RunData().MMIO()
	if addr != 0x20010 || n != 1 || !isWrite || data[0] != 0x7e {
		t.Fatalf("MMIO exit addr %#x len %d write %v data %#x; want write of 0x7e at 0x20010", addr, n, isWrite, data[0])
	}
	if reason := r.runToExit(v); reason != ExitMMIO {
		t.Fatalf("exit %s; want KVM_EXIT_MMIO (read)", ExitReasonName(reason))
	}
	addr, data, n, isWrite = v.RunData().MMIO()
	if addr != 0x20020 || n != 1 || isWrite {
		t.Fatalf("MMIO exit addr %#x len %d write %v; want 1-byte read at 0x20020", addr, n, isWrite)
	}
	data[0] = 0x33
	wantIO(IODirectionOut, 1, 0x80, []byte{0x33})

	if reason := r.runToExit(v); reason != ExitHLT {
		t.Fatalf("exit %s; want KVM_EXIT_HLT", ExitReasonName(reason))
	}
	regs, err := v.GetRegs()
	if err != nil {
		t.Fatalf("GetRegs: %v", err)
	}
	if want := uint64(len(realModeProgram)); regs.RIP != want {
		t.Errorf("RIP after hlt = %#x; want %#x", regs.RIP, want)
	}
	if regs.RAX&0xff != 0x33 {
		t.Errorf("AL = %#x; want the MMIO read value 0x33", regs.RAX&0xff)
	}

	ioe.Flags |= IOEventFDFlagDeassign
	if err := vm.IOEventFD(&ioe); err != nil {
		t.Fatalf("IOEventFD deassign: %v", err)
	}
}
