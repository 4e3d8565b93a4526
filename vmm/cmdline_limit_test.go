package vmm

import (
	"encoding/binary"
	"strings"
	"testing"
)

// TestBzImageCmdlineBoundByVMMArea: a bzImage may declare a cmdline_size
// larger than the area the VMM reserves for the command line; a command
// line that fits the kernel but not the area must be refused, exactly as
// for an ELF kernel (a 70,000-byte --cmdline was accepted before).
func TestBzImageCmdlineBoundByVMMArea(t *testing.T) {
	img := buildBzImage(0x020f, []byte{0xf4})
	binary.LittleEndian.PutUint32(img[hdrCmdlineSize:], 1<<20)
	k, err := ParseKernel(img)
	if err != nil {
		t.Fatal(err)
	}
	if k.CmdlineMax != cmdlineMax-1 {
		t.Fatalf("CmdlineMax %d, want the VMM's %d", k.CmdlineMax, cmdlineMax-1)
	}
	mem, err := NewMemory(64 << 20)
	if err != nil {
		t.Fatal(err)
	}
	defer mem.Close()
	cfg := &Config{KernelName: "bz", CPUs: 1, MemSize: 64 << 20, Cmdline: strings.Repeat("x", 70000)}
	err = loadGuest(mem, k, cfg)
	if err == nil || !strings.Contains(err.Error(), "accepts at most 65535") {
		t.Fatalf("70,000-byte command line: %v", err)
	}
	cfg.Cmdline = strings.Repeat("x", cmdlineMax-1)
	if err := loadGuest(mem, k, cfg); err != nil {
		t.Fatalf("a command line that fills the area exactly: %v", err)
	}
}
