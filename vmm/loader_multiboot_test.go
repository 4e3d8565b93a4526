package vmm

import (
	"bytes"
	"encoding/binary"
	"strings"
	"testing"
)

// mbHeader builds a multiboot header with a correct checksum; with flag 16
// it carries addrs (header_addr, load_addr, load_end_addr, bss_end_addr,
// entry_addr).
func mbHeader(flags uint32, addrs ...uint32) []byte {
	le := binary.LittleEndian
	b := le.AppendUint32(nil, multibootHeaderMagic)
	b = le.AppendUint32(b, flags)
	b = le.AppendUint32(b, -(multibootHeaderMagic + flags))
	for _, a := range addrs {
		b = le.AppendUint32(b, a)
	}
	return b
}

// buildELF32 assembles a minimal ELF32 executable with one PT_LOAD of
// payload at paddr (linked at vaddr), starting at a 4-byte aligned offset.
func buildELF32(machine uint16, paddr, vaddr uint32, payload []byte, entry uint32) []byte {
	le := binary.LittleEndian
	const phoff, dataOff = elf32HeaderSize, elf32HeaderSize + elf32PhdrSize
	b := make([]byte, dataOff+len(payload))
	copy(b, "\x7fELF")
	b[4], b[5], b[6] = elfClass32, elfDataLSB, 1
	le.PutUint16(b[16:], elfTypeExec)
	le.PutUint16(b[18:], machine)
	le.PutUint32(b[24:], entry)
	le.PutUint32(b[28:], phoff)
	le.PutUint16(b[42:], elf32PhdrSize)
	le.PutUint16(b[44:], 1)
	ph := b[phoff:]
	le.PutUint32(ph[0:], elfPTLoad)
	le.PutUint32(ph[4:], dataOff)
	le.PutUint32(ph[8:], vaddr)
	le.PutUint32(ph[12:], paddr)
	le.PutUint32(ph[16:], uint32(len(payload)))
	le.PutUint32(ph[20:], uint32(len(payload))+4096)
	copy(b[dataOff:], payload)
	return b
}

// buildKludge assembles a raw multiboot image loaded by its header's
// address fields: the header at file offset 0 goes to load, code follows
// it (entry = load + 32), then bss zero bytes.
func buildKludge(load uint32, code []byte, bss uint32) []byte {
	end := load + multibootAddrSize + uint32(len(code))
	return append(mbHeader(mbFlagAddress, load, load, 0, end+bss, load+multibootAddrSize), code...)
}

func TestFindMultibootHeader(t *testing.T) {
	valid := mbHeader(mbFlagMemInfo)
	bad := append(mbHeader(0)[:8], 1, 2, 3, 4)
	at := func(off int, parts ...[]byte) []byte {
		b := make([]byte, off)
		for _, p := range parts {
			b = append(b, p...)
		}
		return append(b, make([]byte, 64)...)
	}
	cases := []struct {
		name    string
		data    []byte
		wantOff int64 // -1: none found
		wantErr string
	}{
		{"none", make([]byte, 9000), -1, ""},
		{"at 0", at(0, valid), 0, ""},
		{"last slot of 8 KiB", at(8192-12, valid), 8192 - 12, ""},
		{"past 8 KiB", at(8192-8, valid), -1, ""},
		{"not 4-byte aligned", at(6, valid), -1, ""},
		{"wrong checksum", at(16, bad), -1, "wrong checksum"},
		{"wrong checksum, then a good one", at(16, bad, valid), 28, ""},
		{"unknown required flag", at(0, mbHeader(1<<5)), -1, "requires features"},
		{"video flag is accepted", at(0, mbHeader(mbFlagVideo)), 0, ""},
		{"optional high flag is ignored", at(0, mbHeader(1<<20)), 0, ""},
		{"address fields cut off by 8 KiB", at(8192-16, mbHeader(mbFlagAddress)), -1, "cut off"},
		{"address fields cut off by the file", mbHeader(mbFlagAddress, 1, 2), -1, "cut off"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h, err := findMultibootHeader(c.data)
			switch {
			case c.wantErr != "":
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("err %v, want it to mention %q", err, c.wantErr)
				}
			case err != nil:
				t.Fatal(err)
			case c.wantOff < 0 && h != nil:
				t.Fatalf("found a header at %#x", h.offset)
			case c.wantOff >= 0 && (h == nil || h.offset != uint64(c.wantOff)):
				t.Fatalf("header %+v, want offset %#x", h, c.wantOff)
			}
		})
	}
}

func TestParseMultibootImages(t *testing.T) {
	code := []byte{0xf4, 0xeb, 0xfd} // hlt; jmp .-1
	payload := append(mbHeader(mbFlagMemInfo), code...)
	pvhAndMB := buildELF(elfMachineX86_64, 0x100000, payload, 0x10000c, 0x10000c)
	cases := []struct {
		name      string
		data      []byte
		boot      string
		wantProto BootProtocol
		wantEntry uint64
		wantSeg   Segment // the first segment's address and memory size
	}{
		{"ELF32", buildELF32(elfMachine386, 0x100000, 0x100000, payload, 0x10000c), "", BootMultiboot, 0x10000c,
			Segment{Addr: 0x100000, MemSize: uint64(len(payload)) + 4096}},
		{"ELF32 linked high, entry moved to physical", buildELF32(elfMachine386, 0x200000, 0xc0200000, payload, 0xc020000c), "", BootMultiboot, 0x20000c,
			Segment{Addr: 0x200000, MemSize: uint64(len(payload)) + 4096}},
		{"ELF32 linked high, physical e_entry", buildELF32(elfMachine386, 0x200000, 0xc0200000, payload, 0x20000c), "", BootMultiboot, 0x20000c,
			Segment{Addr: 0x200000, MemSize: uint64(len(payload)) + 4096}},
		{"ELF64", buildELF(elfMachineX86_64, 0x100000, payload, 0x10000c, 0), "", BootMultiboot, 0x10000c,
			Segment{Addr: 0x100000, MemSize: uint64(len(payload)) + 4096}},
		{"a.out kludge below 1 MiB", buildKludge(0x8000, code, 0x1000), "", BootMultiboot, 0x8020,
			Segment{Addr: 0x8000, MemSize: 32 + 3 + 0x1000}},
		{"PVH note wins in auto", pvhAndMB, "", BootPVH, 0x10000c, Segment{Addr: 0x100000, MemSize: uint64(len(payload)) + 4096}},
		{"multiboot when asked", pvhAndMB, "multiboot", BootMultiboot, 0x10000c, Segment{Addr: 0x100000, MemSize: uint64(len(payload)) + 4096}},
		{"linux when asked", pvhAndMB, "linux", BootLinux64, 0x10000c, Segment{Addr: 0x100000, MemSize: uint64(len(payload)) + 4096}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			k, err := ParseKernelFor(c.data, c.boot)
			if err != nil {
				t.Fatal(err)
			}
			if k.Protocol != c.wantProto || k.Entry != c.wantEntry {
				t.Fatalf("protocol %v entry %#x, want %v at %#x", k.Protocol, k.Entry, c.wantProto, c.wantEntry)
			}
			if s := k.Segments[0]; s.Addr != c.wantSeg.Addr || s.MemSize != c.wantSeg.MemSize || !bytes.Contains(c.data, s.Data) {
				t.Fatalf("segment at %#x memsize %#x, want %#x memsize %#x", s.Addr, s.MemSize, c.wantSeg.Addr, c.wantSeg.MemSize)
			}
		})
	}
}

// TestParseMultibootRejects: every malformed image is one clear error.
func TestParseMultibootRejects(t *testing.T) {
	code := []byte{0xf4, 0xeb, 0xfd}
	payload := append(mbHeader(mbFlagMemInfo), code...)
	kludge := func(header, load, loadEnd, bssEnd, entry uint32) []byte {
		return append(mbHeader(mbFlagAddress, header, load, loadEnd, bssEnd, entry), code...)
	}
	badSum := append(mbHeader(0)[:8], 0, 0, 0, 0)
	cases := []struct {
		name string
		data []byte
		boot string
		want string
	}{
		{"raw image without address fields", append(mbHeader(0), code...), "", "no address fields (flag 16)"},
		{"wrong checksum, raw", append(badSum, code...), "", "wrong checksum"},
		{"wrong checksum, ELF32", buildELF32(elfMachine386, 0x100000, 0x100000, append(badSum, code...), 0x10000c), "", "wrong checksum"},
		{"ELF32 without a header", buildELF32(elfMachine386, 0x100000, 0x100000, code, 0x100000), "", "not 64-bit"},
		{"ELF32 for ARM", buildELF32(40, 0x100000, 0x100000, payload, 0x10000c), "", "ARM, not x86"},
		{"header_addr below load_addr", kludge(0x1000, 0x2000, 0, 0, 0x2000), "", "below load_addr"},
		{"load_addr before the file", kludge(0x102000, 0x100000, 0, 0, 0x102000), "", "before the header"},
		{"load_end_addr below load_addr", kludge(0x100000, 0x100000, 0xff000, 0, 0x100000), "", "load_end_addr"},
		{"load_end_addr past the file", kludge(0x100000, 0x100000, 0x200000, 0, 0x100000), "", "but the file has"},
		{"bss_end_addr inside the data", kludge(0x100000, 0x100000, 0, 0x100010, 0x100020), "", "bss_end_addr"},
		{"entry outside the image", kludge(0x100000, 0x100000, 0, 0, 0x300000), "", "outside the loaded image"},
		{"entry in the bss", kludge(0x100000, 0x100000, 0, 0x110000, 0x108000), "", "outside the loaded image"},
		{"ELF entry outside its segments", buildELF32(elfMachine386, 0x100000, 0x100000, payload, 0x500000), "", "not inside any loaded segment"},
		{"ELF64 segment above 4 GiB", buildELF(elfMachineX86_64, 0x1_0000_0000, payload, 0x1_0000_000c, 0), "", "above 4 GiB"},
		{"multiboot asked, no header", buildELF(elfMachineX86_64, 0x100000, code, 0x100000, 0), "multiboot", "no multiboot header"},
		{"multiboot asked of a bzImage", buildBzImage(0x020f, code), "multiboot", "bzImage boots only"},
		{"pvh asked, no note", buildELF32(elfMachine386, 0x100000, 0x100000, payload, 0x10000c), "pvh", "no PVH note"},
		{"linux asked of ELF32", buildELF32(elfMachine386, 0x100000, 0x100000, payload, 0x10000c), "linux", "needs an ELF64"},
		{"pvh asked of a raw multiboot image", buildKludge(0x100000, code, 0), "pvh", "boots only through multiboot"},
		{"unknown protocol", payload, "bios", "use auto, pvh, multiboot, linux"},
		{"random bytes", []byte(strings.Repeat("not a kernel ", 100)), "", "not a kernel"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			k, err := ParseKernelFor(c.data, c.boot)
			if err == nil {
				t.Fatalf("accepted: %+v", k)
			}
			if !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("err %q, want one line mentioning %q", err, c.want)
			}
		})
	}
}

func TestLoadGuestMultiboot(t *testing.T) {
	mem, err := NewMemory(64 << 20)
	if err != nil {
		t.Fatal(err)
	}
	defer mem.Close()
	k, err := ParseKernel(buildKludge(0x8000, []byte{0xf4}, 0x100))
	if err != nil {
		t.Fatal(err)
	}
	initrd := bytes.Repeat([]byte{0x5a}, 10000)
	cfg := &Config{KernelName: "/boot/k.elf", Cmdline: "a=1 b", CPUs: 1, MemSize: 64 << 20, Initrd: initrd, InitrdName: "env.txt"}
	if err := loadGuest(mem, k, cfg); err != nil {
		t.Fatal(err)
	}
	le := binary.LittleEndian
	u32 := func(addr uint64) uint32 {
		b, err := mem.Slice(addr, 4)
		if err != nil {
			t.Fatal(err)
		}
		return le.Uint32(b)
	}
	cstr := func(addr uint32) string {
		b, _ := mem.Slice(uint64(addr), 256)
		s, _, _ := bytes.Cut(b, []byte{0})
		return string(s)
	}
	info := uint64(mbInfoAddr)
	if f := u32(info); f != mbInfoMemory|mbInfoCmdline|mbInfoMods|mbInfoMmap|mbInfoLoaderName {
		t.Errorf("flags %#x", f)
	}
	if lo, up := u32(info+4), u32(info+8); lo != 639 || up != (64<<20-1<<20)/1024 {
		t.Errorf("mem_lower %d mem_upper %d, want 639 and %d", lo, up, (64<<20-1<<20)/1024)
	}
	if s := cstr(u32(info + 16)); s != "/boot/k.elf a=1 b" {
		t.Errorf("cmdline %q", s)
	}
	if n := u32(info + 20); n != 1 {
		t.Fatalf("mods_count %d", n)
	}
	mod := uint64(u32(info + 24))
	start, end := uint64(u32(mod)), uint64(u32(mod+4))
	if start%4096 != 0 || end-start != uint64(len(initrd)) || cstr(u32(mod+8)) != "env.txt" {
		t.Errorf("module %#x-%#x %q", start, end, cstr(u32(mod+8)))
	}
	if got, _ := mem.Slice(start, end-start); !bytes.Equal(got, initrd) {
		t.Error("module contents differ from the initrd")
	}
	e820 := e820Map(mem)
	mmapLen, mmapAddr := uint64(u32(info+44)), uint64(u32(info+48))
	if mmapLen != uint64(len(e820))*mbMmapEntrySize {
		t.Fatalf("mmap_length %d for %d e820 entries", mmapLen, len(e820))
	}
	for i, e := range e820 {
		b, _ := mem.Slice(mmapAddr+uint64(i)*mbMmapEntrySize, mbMmapEntrySize)
		if le.Uint32(b) != 20 || le.Uint64(b[4:]) != e.Addr || le.Uint64(b[12:]) != e.Size || le.Uint32(b[20:]) != e.Type {
			t.Errorf("mmap entry %d = % x, want %+v", i, b, e)
		}
	}
	if s := cstr(u32(info + 64)); s != "vmm" {
		t.Errorf("boot loader name %q", s)
	}
	if code, _ := mem.Slice(0x8020, 1); code[0] != 0xf4 {
		t.Error("kernel code not loaded at 0x8020")
	}
}

func TestLoadGuestMultibootRefusesBootStructureOverlap(t *testing.T) {
	mem, err := NewMemory(minMemSize)
	if err != nil {
		t.Fatal(err)
	}
	defer mem.Close()
	for _, c := range []struct {
		load uint32
		want string
	}{
		{0x1000, "multiboot information block"},
		{0x0f00, "multiboot information block"}, // runs into it
		{0x400, "GDT and IDT"},
		{0x2ff00, "command lines"},
		{0x9fb00, "MP and ACPI tables"},
	} {
		k, err := ParseKernel(buildKludge(c.load, []byte{0xf4}, 0x200))
		if err != nil {
			t.Fatal(err)
		}
		err = loadGuest(mem, k, &Config{KernelName: "k", CPUs: 1})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("load at %#x: err %v, want it to name %q", c.load, err, c.want)
		}
	}
}

func TestLoadGuestMultibootCommandLineBound(t *testing.T) {
	mem, err := NewMemory(minMemSize)
	if err != nil {
		t.Fatal(err)
	}
	defer mem.Close()
	k, _ := ParseKernel(buildKludge(0x100000, []byte{0xf4}, 0))
	name := "kernel"
	fits := strings.Repeat("x", int(k.CmdlineMax)-len(name)-1)
	if err := loadGuest(mem, k, &Config{KernelName: name, CPUs: 1, Cmdline: fits}); err != nil {
		t.Fatalf("a command line that just fits: %v", err)
	}
	err = loadGuest(mem, k, &Config{KernelName: name, CPUs: 1, Cmdline: fits + "x"})
	if err == nil || !strings.Contains(err.Error(), "multiboot command line") {
		t.Fatalf("one byte too long: %v", err)
	}
}

func TestOverlappingBootStructure(t *testing.T) {
	rs := []addrRange{{0x1000, 0x2000, "a"}}
	for _, c := range []struct {
		addr, size uint64
		want       bool
	}{
		{0, 0x1000, false}, {0, 0x1001, true}, {0x1fff, 1, true}, {0x2000, 0x100, false},
		{0x1800, 0, false}, {0x500, ^uint64(0), true}, {^uint64(0) - 5, 100, false},
	} {
		if _, got := overlappingBootStructure(rs, c.addr, c.size); got != c.want {
			t.Errorf("%#x+%#x: overlap %v, want %v", c.addr, c.size, got, c.want)
		}
	}
}

// FuzzMultibootHeader feeds arbitrary bytes, raw and wrapped in ELF32 and
// ELF64 files, to the multiboot parser: it must never panic, and whatever
// it accepts must load inside the input, below 4 GiB, and enter inside
// what it loads.
func FuzzMultibootHeader(f *testing.F) {
	code := []byte{0xf4, 0xeb, 0xfd}
	f.Add(buildKludge(0x100000, code, 0x1000))
	f.Add(buildKludge(0x8000, code, 0))
	f.Add(append(mbHeader(mbFlagAddress, 0x100000, 0x100000, 0x100023, 0x200000, 0x100020), code...))
	f.Add(append(mbHeader(mbFlagMemInfo|mbFlagVideo, 0, 0, 0, 0, 0, 0, 640, 480, 32), code...))
	f.Add(append(mbHeader(0)[:8], code...))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, img := range [][]byte{
			data,
			buildELF32(elfMachine386, 0x100000, 0x100000, data, 0x100000),
			buildELF(elfMachineX86_64, 0x100000, data, 0x100000, 0),
		} {
			h, hErr := findMultibootHeader(img)
			k, err := ParseKernelFor(img, BootChoiceMultiboot)
			if hErr != nil && err == nil {
				t.Fatalf("header error %v, but the image parsed", hErr)
			}
			if err != nil {
				continue
			}
			if h == nil || k.Protocol != BootMultiboot {
				t.Fatalf("accepted without a header (%+v) or as %v", h, k.Protocol)
			}
			inside := false
			for _, s := range k.Segments {
				if uint64(len(s.Data)) > s.MemSize || !bytes.Contains(img, s.Data) {
					t.Fatalf("segment %#x: %d data bytes, memsize %#x", s.Addr, len(s.Data), s.MemSize)
				}
				if s.Addr+s.MemSize > mmioHoleEnd || s.Addr+s.MemSize < s.Addr {
					t.Fatalf("segment %#x+%#x ends above 4 GiB", s.Addr, s.MemSize)
				}
				if k.Entry >= s.Addr && k.Entry-s.Addr < uint64(len(s.Data)) {
					inside = true
				}
			}
			if !inside {
				t.Fatalf("entry %#x is outside the loaded data", k.Entry)
			}
		}
	})
}
