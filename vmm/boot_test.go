package vmm

import (
	"bytes"
	"encoding/binary"
	"strings"
	"testing"
)

func TestParseSize(t *testing.T) {
	good := map[string]uint64{"256M": 256 << 20, "2G": 2 << 30, "512MiB": 512 << 20, "4096": 4096, "1g": 1 << 30, "64KB": 64 << 10}
	for in, want := range good {
		if got, err := ParseSize(in); err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "lots", "12Q", "-1M", "99999999999999999999G", "1.5G"} {
		if _, err := ParseSize(in); err == nil {
			t.Errorf("ParseSize(%q) accepted", in)
		}
	}
}

func TestMemoryLayoutAndBounds(t *testing.T) {
	m, err := NewMemory(3<<30 + 512<<20) // spills 512 MiB above 4 GiB
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if len(m.Regions) != 2 || m.LowEnd() != mmioHoleStart || m.Regions[1].GPA != mmioHoleEnd || len(m.Regions[1].Mem) != 512<<20 {
		t.Fatalf("regions %+v", m.Regions)
	}
	e := e820Map(m)
	var ram uint64
	for _, r := range e {
		if r.Type == E820RAM {
			ram += r.Size
		}
	}
	if ram != m.Size()-(highMemStart-ebdaStart) {
		t.Fatalf("e820 RAM %#x, want %#x", ram, m.Size()-(highMemStart-ebdaStart))
	}
	for _, c := range []struct{ gpa, n uint64 }{
		{mmioHoleStart - 1, 2},         // straddles the end of low RAM
		{mmioHoleStart, 1},             // in the hole
		{^uint64(0), 2},                // wraps
		{0, ^uint64(0)},                // huge length
		{mmioHoleEnd + 512<<20 - 1, 2}, // past the top
	} {
		if _, err := m.Slice(c.gpa, c.n); err == nil {
			t.Errorf("Slice(%#x, %#x) succeeded", c.gpa, c.n)
		}
	}
	if b, err := m.Slice(mmioHoleEnd, 16); err != nil || len(b) != 16 {
		t.Fatalf("high slice: %v", err)
	}
	if _, err := NewMemory(1 << 20); err == nil || !strings.Contains(err.Error(), "too small") {
		t.Fatalf("1 MiB guest: %v", err)
	}
}

func TestMPTable(t *testing.T) {
	b, err := buildMPTable(4)
	if err != nil {
		t.Fatal(err)
	}
	if string(b[:4]) != "_MP_" || checksum(b[:16]) != 0 {
		t.Fatal("bad floating pointer")
	}
	table := b[16:]
	n := binary.LittleEndian.Uint16(table[4:])
	if string(table[:4]) != "PCMP" || int(n) != len(table) || checksum(table) != 0 {
		t.Fatalf("bad config table (len %d of %d)", n, len(table))
	}
	procs := 0
	for off := 44; off < len(table); {
		switch table[off] {
		case mpEntryProcessor:
			if table[off+1] != byte(procs) {
				t.Fatalf("processor %d has APIC id %d", procs, table[off+1])
			}
			procs++
			off += mpProcEntrySize
		default:
			off += mpOtherEntrySize
		}
	}
	if procs != 4 {
		t.Fatalf("%d processors", procs)
	}
	if len(b) > mpTableLimit {
		t.Fatalf("table %d bytes overflows the EBDA window", len(b))
	}
	if big, err := buildMPTable(MaxCPUs); err != nil || len(big) > mpTableLimit {
		t.Fatalf("MaxCPUs table: %v (%d bytes)", err, len(big))
	}
}

func TestLoadGuestPVHAndInitrd(t *testing.T) {
	mem, err := NewMemory(64 << 20)
	if err != nil {
		t.Fatal(err)
	}
	defer mem.Close()
	k, err := ParseKernel(buildELF(elfMachineX86_64, 0x100000, []byte("KERNEL"), 0x100000, 0x100000))
	if err != nil {
		t.Fatal(err)
	}
	initrd := bytes.Repeat([]byte{0xab}, 10000)
	cfg := &Config{KernelName: "k", Cmdline: "console=ttyS0 hello", CPUs: 2, MemSize: 64 << 20, Initrd: initrd, InitrdName: "i"}
	if err := loadGuest(mem, k, cfg); err != nil {
		t.Fatal(err)
	}
	le := binary.LittleEndian
	info, _ := mem.Slice(pvhInfoAddr, pvhInfoSize)
	if le.Uint32(info) != pvhMagic || le.Uint32(info[12:]) != 1 {
		t.Fatalf("start_info %x", info)
	}
	cmd, _ := mem.Slice(le.Uint64(info[24:]), uint64(len(cfg.Cmdline)+1))
	if string(cmd) != cfg.Cmdline+"\x00" {
		t.Fatalf("cmdline %q", cmd)
	}
	mod, _ := mem.Slice(le.Uint64(info[16:]), 32)
	addr, size := le.Uint64(mod), le.Uint64(mod[8:])
	if addr%4096 != 0 || size != uint64(len(initrd)) || addr+size > mem.LowEnd() {
		t.Fatalf("initrd at %#x size %d", addr, size)
	}
	got, _ := mem.Slice(addr, size)
	if !bytes.Equal(got, initrd) {
		t.Fatal("initrd contents differ")
	}
	if n := le.Uint32(info[48:]); n != uint32(len(e820Map(mem))) {
		t.Fatalf("memmap entries %d", n)
	}
}

func TestLoadGuestErrors(t *testing.T) {
	mem, err := NewMemory(minMemSize)
	if err != nil {
		t.Fatal(err)
	}
	defer mem.Close()
	big, _ := ParseKernel(buildELF(elfMachineX86_64, 0x100000, []byte{1}, 0x100000, 0))
	big.Segments[0].MemSize = 64 << 20
	small, _ := ParseKernel(buildELF(elfMachineX86_64, 0x100000, []byte{1}, 0x100000, 0))
	half, _ := ParseKernel(buildELF(elfMachineX86_64, 0x100000, []byte{1}, 0x100000, 0))
	half.Segments[0].MemSize = 8 << 20 // the kernel takes 1–9 MiB of the 16
	cases := []struct {
		name string
		k    *Kernel
		cfg  Config
		want string
	}{
		{"kernel larger than RAM", big, Config{KernelName: "big", CPUs: 1}, "kernel big needs RAM up to 0x4100000 but the guest has 16M: raise --mem"},
		{"initrd larger than RAM", small, Config{KernelName: "k", CPUs: 1, Initrd: make([]byte, 32<<20), InitrdName: "huge.img"},
			"initrd huge.img (32M) is larger than guest RAM below 0x1000000: raise --mem"},
		{"initrd in RAM but not above the kernel", half, Config{KernelName: "k", CPUs: 1, Initrd: make([]byte, 9<<20), InitrdName: "mid.img"},
			"initrd mid.img (9M) does not fit between the kernel (ends at 0x900000) and 0x1000000: raise --mem"},
		{"command line too long", small, Config{KernelName: "k", CPUs: 1, Cmdline: strings.Repeat("x", cmdlineMax)}, "accepts at most"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := loadGuest(mem, c.k, &c.cfg)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err %v, want %q", err, c.want)
			}
		})
	}
}

func TestACPITables(t *testing.T) {
	tables, err := acpiTables(MaxCPUs, MaxVirtioDevices)
	if err != nil {
		t.Fatal(err)
	}
	rsdp := tables[acpiRSDPAddr]
	if string(rsdp[:8]) != "RSD PTR " || checksum(rsdp[:20]) != 0 || checksum(rsdp) != 0 {
		t.Fatal("bad RSDP checksums")
	}
	le := binary.LittleEndian
	xsdt := tables[le.Uint64(rsdp[24:])]
	if string(xsdt[:4]) != "XSDT" || checksum(xsdt) != 0 {
		t.Fatal("bad XSDT")
	}
	seen := map[string]bool{}
	for off := sdtHeaderSize; off+8 <= len(xsdt); off += 8 {
		tb := tables[le.Uint64(xsdt[off:])]
		if tb == nil || checksum(tb) != 0 || int(le.Uint32(tb[4:])) != len(tb) {
			t.Fatalf("table at %#x: bad length or checksum", le.Uint64(xsdt[off:]))
		}
		seen[string(tb[:4])] = true
		if string(tb[:4]) == "APIC" {
			n := 0
			for p := sdtHeaderSize + 8; p < len(tb); p += int(tb[p+1]) {
				if tb[p] == madtLAPIC {
					n++
				}
			}
			if n != MaxCPUs {
				t.Fatalf("MADT lists %d CPUs", n)
			}
		}
		if string(tb[:4]) == "FACP" {
			dsdt := tables[le.Uint64(tb[140:])]
			if dsdt == nil || string(dsdt[:4]) != "DSDT" || checksum(dsdt) != 0 {
				t.Fatal("FADT does not point at a valid DSDT")
			}
		}
	}
	if !seen["FACP"] || !seen["APIC"] {
		t.Fatalf("XSDT lists %v", seen)
	}
}
