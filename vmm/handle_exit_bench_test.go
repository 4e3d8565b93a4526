package vmm

import (
	"encoding/binary"
	"os"
	"testing"

	"vmm/internal/testutil"
	"vmm/kvm"
)

// exitRig is a real VM (test device attached) and a real vCPU whose kvm_run
// page the tests fill with synthetic exits, so handleExit runs exactly as
// after KVM_RUN, without entering a guest.
type exitRig struct {
	vm  *VM
	cpu *kvm.VCPU
	run *kvm.Run
}

func newExitRig(tb testing.TB) *exitRig {
	tb.Helper()
	if _, err := os.Stat("/dev/kvm"); err != nil {
		testutil.Missing(tb, "needs /dev/kvm: %v", err)
	}
	vm, err := New(Config{Kernel: buildELF(elfMachineX86_64, 0x100000, []byte{0xf4}, 0x100000, 0x100000),
		KernelName: "k", MemSize: minMemSize, CPUs: 1, TestExit: true})
	if err != nil {
		tb.Fatal(err)
	}
	cpu, err := vm.vm.CreateVCPU(0)
	if err != nil {
		vm.Close()
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		_ = cpu.Close()
		vm.Close()
	})
	return &exitRig{vm: vm, cpu: cpu, run: cpu.RunData()}
}

// kvmPIODataOffset is where KVM puts port I/O data in kvm_run (one page in,
// KVM_PIO_PAGE_OFFSET).
const kvmPIODataOffset = 4096

// setIO fills kvm_run with a KVM_EXIT_IO of one size-byte access to port.
func (r *exitRig) setIO(out bool, port uint16, size uint8, value uint32) {
	r.run.ExitReason = kvm.ExitIO
	u := r.run.Exit[:]
	clear(u[:16])
	if out {
		u[0] = kvm.IODirectionOut
	}
	u[1] = size
	binary.LittleEndian.PutUint16(u[2:], port)
	binary.LittleEndian.PutUint32(u[4:], 1)
	binary.LittleEndian.PutUint64(u[8:], kvmPIODataOffset)
	d := r.cpu.IOData()
	var buf [4]byte
	binary.LittleEndian.PutUint32(buf[:], value)
	copy(d, buf[:size])
}

// setMMIO fills kvm_run with a KVM_EXIT_MMIO of a 4-byte access at addr.
func (r *exitRig) setMMIO(write bool, addr uint64, value uint32) {
	r.run.ExitReason = kvm.ExitMMIO
	u := r.run.Exit[:]
	clear(u[:24])
	binary.LittleEndian.PutUint64(u[0:], addr)
	binary.LittleEndian.PutUint32(u[8:], value)
	binary.LittleEndian.PutUint32(u[16:], 4)
	if write {
		u[20] = 1
	}
}

// exitCases are the exits the tiny kernel's latency and pio/mmio cases
// cause, each prepared by set.
var exitCases = []struct {
	name string
	set  func(r *exitRig)
	want uint32 // for reads: the value handleExit must leave for the guest
}{
	{"pio-out-unclaimed", func(r *exitRig) { r.setIO(true, 0x300, 4, 7) }, 0},
	{"pio-in-unclaimed", func(r *exitRig) { r.setIO(false, 0x300, 4, 0) }, 0xffffffff},
	{"pio-out-scratch", func(r *exitRig) { r.setIO(true, 0xf8, 4, 0x1234) }, 0},
	{"pio-in-scratch", func(r *exitRig) { r.setIO(false, 0xf8, 4, 0) }, 0x1234},
	{"mmio-write-scratch", func(r *exitRig) { r.setMMIO(true, testMMIOScratch, 0x5678) }, 0},
	{"mmio-read-scratch", func(r *exitRig) { r.setMMIO(false, testMMIOScratch, 0) }, 0x5678},
	{"mmio-read-unclaimed", func(r *exitRig) { r.setMMIO(false, 0xc8000000, 0) }, 0xffffffff},
}

// testMMIOScratch is the test device's MMIO echo register.
const testMMIOScratch = 0xc0000000

// readBack is what a read exit left for the guest.
func (r *exitRig) readBack() uint32 {
	if r.run.ExitReason == kvm.ExitIO {
		return binary.LittleEndian.Uint32(r.cpu.IOData())
	}
	_, data, _, _ := r.run.MMIO()
	return binary.LittleEndian.Uint32(data[:])
}

// TestHandleExitDevicePaths runs the cases in order (writes before the
// reads that echo them) and checks what each read returns.
func TestHandleExitDevicePaths(t *testing.T) {
	r := newExitRig(t)
	for _, tc := range exitCases {
		tc.set(r)
		if err := r.vm.handleExit(r.cpu, r.run); err != nil {
			t.Fatalf("%s: handleExit: %v", tc.name, err)
		}
		if tc.want != 0 {
			if got := r.readBack(); got != tc.want {
				t.Errorf("%s: the guest would read %#x, want %#x", tc.name, got, tc.want)
			}
		}
	}
}

// TestHandleExitAllocatesNothing: the port I/O and MMIO paths run on every
// exit; they must not allocate.
func TestHandleExitAllocatesNothing(t *testing.T) {
	r := newExitRig(t)
	for _, tc := range exitCases {
		tc.set(r)
		allocs := testing.AllocsPerRun(1000, func() {
			if err := r.vm.handleExit(r.cpu, r.run); err != nil {
				t.Fatal(err)
			}
		})
		if allocs != 0 {
			t.Errorf("%s: %v allocations per exit, want 0", tc.name, allocs)
		}
	}
}

// BenchmarkHandleExit is the VMM's own share of one exit round trip (the
// rest is KVM's, about 10 µs on kvm_pvm): decode kvm_run, bus lookup, device.
//
//	go test -run '^$' -bench HandleExit -benchmem ./vmm
func BenchmarkHandleExit(b *testing.B) {
	r := newExitRig(b)
	for _, tc := range exitCases {
		b.Run(tc.name, func(b *testing.B) {
			tc.set(r)
			b.ReportAllocs()
			for b.Loop() {
				if err := r.vm.handleExit(r.cpu, r.run); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
