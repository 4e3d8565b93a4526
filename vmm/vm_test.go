package vmm

import (
	"os"
	"runtime"
	"testing"
	"weak"

	"vmm/internal/testutil"
)

// TestNewKeepsNoKernelImage: once New has loaded the guest, the VM holds no
// reference to the kernel or initrd bytes it was given, so they can be
// collected (a Linux image is megabytes).
func TestNewKeepsNoKernelImage(t *testing.T) {
	if _, err := os.Stat("/dev/kvm"); err != nil {
		testutil.Missing(t, "needs /dev/kvm: %v", err)
	}
	kernel := buildELF(elfMachineX86_64, 0x100000, make([]byte, 1<<20), 0x100000, 0x100000)
	initrd := make([]byte, 1<<20)
	wk, wi := weak.Make(&kernel[0]), weak.Make(&initrd[0])
	vm, err := New(Config{Kernel: kernel, KernelName: "k", Initrd: initrd, InitrdName: "i", MemSize: 64 << 20, CPUs: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer vm.Close()
	kernel, initrd = nil, nil
	runtime.GC()
	if wk.Value() != nil {
		t.Error("the kernel image is still reachable after New")
	}
	if wi.Value() != nil {
		t.Error("the initrd is still reachable after New")
	}
	if vm.kernel.Entry != 0x100000 || vm.kernel.Protocol != BootPVH {
		t.Errorf("entry %#x protocol %v: what the vCPUs need was dropped too", vm.kernel.Entry, vm.kernel.Protocol)
	}
}
