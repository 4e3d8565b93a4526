package vmm

import (
	"encoding/binary"
	"fmt"
	"os"
	"testing"
	"time"

	"vmm/internal/testutil"
)

// x86 encodings for the probe below (32-bit code).
var (
	// out4 writes EAX to the port in DX, low byte first: 4 × (out %al,(%dx))
	// with shr $8,%eax between.
	out4       = []byte{0xee, 0xc1, 0xe8, 0x08, 0xee, 0xc1, 0xe8, 0x08, 0xee, 0xc1, 0xe8, 0x08, 0xee}
	movEDXCOM1 = []byte{0xba, 0xf8, 0x03, 0x00, 0x00} // mov $0x3f8,%edx
)

// entryProbe is 32-bit code that reports, as raw little-endian dwords on
// COM1, what a multiboot kernel finds at entry: EAX, EBX, CR0, CS, EFLAGS,
// the info block's flags and mem_upper, and the CPU count read from fw_cfg
// (key 0x05, two bytes from port 0x511). Then it writes 0 to the test-exit
// port.
func entryProbe() []byte {
	var c []byte
	add := func(b ...byte) { c = append(c, b...) }
	add(0x89, 0xc7) // mov %eax,%edi
	add(movEDXCOM1...)
	add(0x89, 0xf8) // mov %edi,%eax
	add(out4...)
	add(0x89, 0xd8) // mov %ebx,%eax
	add(out4...)
	add(0x0f, 0x20, 0xc0) // mov %cr0,%eax
	add(out4...)
	add(0x8c, 0xc8) // mov %cs,%eax
	add(out4...)
	add(0xbc, 0x00, 0x70, 0x00, 0x00) // mov $0x7000,%esp (free low RAM on this path)
	add(0x9c, 0x58)                   // pushf; pop %eax
	add(out4...)
	add(0x8b, 0x03) // mov (%ebx),%eax: flags
	add(out4...)
	add(0x8b, 0x43, 0x08) // mov 8(%ebx),%eax: mem_upper
	add(out4...)
	add(0xba, 0x10, 0x05, 0x00, 0x00) // mov $0x510,%edx
	add(0xb8, 0x05, 0x00, 0x00, 0x00) // mov $5,%eax (FW_CFG_NB_CPUS)
	add(0x66, 0xef)                   // out %ax,(%dx)
	add(0x42)                         // inc %edx
	add(0xec, 0x88, 0xc1)             // in (%dx),%al; mov %al,%cl
	add(0xec, 0x88, 0xc5)             // in (%dx),%al; mov %al,%ch
	add(0x0f, 0xb7, 0xc1)             // movzwl %cx,%eax
	add(movEDXCOM1...)
	add(out4...)
	add(0x31, 0xc0, 0xe7, 0xf4) // xor %eax,%eax; out %eax,$0xf4
	add(0xf4, 0xeb, 0xfd)       // hlt; jmp .-1
	return c
}

// TestMultibootEntryState boots the probe as a 32-bit ELF, a 64-bit ELF
// and an a.out-kludge image below 1 MiB, and checks the machine state the
// multiboot specification (section 3.2) promises.
func TestMultibootEntryState(t *testing.T) {
	if _, err := os.Stat("/dev/kvm"); err != nil {
		testutil.Missing(t, "needs /dev/kvm: %v", err)
	}
	code := append(mbHeader(mbFlagMemInfo), entryProbe()...)
	const mem = 64 << 20
	images := []struct {
		name  string
		image []byte
	}{
		{"ELF32", buildELF32(elfMachine386, 0x100000, 0x100000, code, 0x10000c)},
		{"ELF64", buildELF(elfMachineX86_64, 0x200000, code, 0x20000c, 0)},
		{"a.out kludge at 0x8000", buildKludge(0x8000, entryProbe(), 0)},
	}
	for _, img := range images {
		for _, cpus := range []int{1, 3} {
			t.Run(fmt.Sprintf("%s/%d vCPUs", img.name, cpus), func(t *testing.T) {
				var out testutil.SyncBuffer
				vm, err := New(Config{Kernel: img.image, KernelName: "probe", MemSize: mem, CPUs: cpus, TestExit: true,
					Console: &out, Workarounds: WorkaroundsOff})
				if err != nil {
					t.Fatal(err)
				}
				defer vm.Close()
				hung := time.AfterFunc(time.Minute, func() { vm.Stop(Result{Status: -1}) })
				res := vm.Run()
				hung.Stop()
				if res.Err != nil || res.Status != 0 {
					t.Fatalf("run ended with %+v", res)
				}
				b := []byte(out.String())
				if len(b) != 8*4 {
					t.Fatalf("probe wrote %d bytes, want 32: % x", len(b), b)
				}
				r := func(i int) uint32 { return binary.LittleEndian.Uint32(b[4*i:]) }
				eax, ebx, cr0, cs, eflags, flags, memUpper, ncpu := r(0), r(1), r(2), r(3), r(4), r(5), r(6), r(7)
				if eax != multibootBootloaderMagic || ebx != mbInfoAddr {
					t.Errorf("EAX %#x EBX %#x, want %#x and the info block at %#x", eax, ebx, multibootBootloaderMagic, mbInfoAddr)
				}
				if cr0&cr0PE == 0 || cr0&cr0PG != 0 {
					t.Errorf("CR0 %#x: want protection on, paging off", cr0)
				}
				if cs&0xffff != selCode32 {
					t.Errorf("CS %#x, want the flat 32-bit code selector %#x", cs, selCode32)
				}
				if eflags&(1<<9|1<<17) != 0 {
					t.Errorf("EFLAGS %#x: IF and VM must be clear", eflags)
				}
				if flags&(mbInfoMemory|mbInfoCmdline|mbInfoMmap) != mbInfoMemory|mbInfoCmdline|mbInfoMmap {
					t.Errorf("info flags %#x", flags)
				}
				if memUpper != (mem-1<<20)/1024 {
					t.Errorf("mem_upper %d KiB, want %d", memUpper, (mem-1<<20)/1024)
				}
				if ncpu != uint32(cpus) {
					t.Errorf("fw_cfg says %d CPUs, want %d", ncpu, cpus)
				}
			})
		}
	}
}
