package vmm

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"strings"
	"testing"
)

// buildELF assembles a minimal ELF64 executable with one PT_LOAD segment at
// paddr (linked, as a vmlinux is, at a different virtual address) and, if pvh != 0, a PT_NOTE carrying XEN_ELFNOTE_PHYS32_ENTRY.
func buildELF(machine uint16, paddr uint64, payload []byte, entry, pvh uint64) []byte {
	le := binary.LittleEndian
	nph := 1
	if pvh != 0 {
		nph = 2
	}
	phoff := uint64(elfHeaderSize)
	dataOff := phoff + uint64(nph)*elfPhdrSize
	var note []byte
	if pvh != 0 {
		note = make([]byte, 12+4+8)
		le.PutUint32(note[0:], 4)
		le.PutUint32(note[4:], 8)
		le.PutUint32(note[8:], xenElfnotePhys32)
		copy(note[12:], "Xen\x00")
		le.PutUint64(note[16:], pvh)
	}
	b := make([]byte, dataOff+uint64(len(payload))+uint64(len(note)))
	copy(b, "\x7fELF")
	b[4], b[5], b[6] = elfClass64, elfDataLSB, 1
	le.PutUint16(b[16:], elfTypeExec)
	le.PutUint16(b[18:], machine)
	le.PutUint32(b[20:], 1) // EV_CURRENT
	le.PutUint64(b[24:], entry)
	le.PutUint64(b[32:], phoff)
	le.PutUint16(b[54:], elfPhdrSize)
	le.PutUint16(b[56:], uint16(nph))
	ph := b[phoff:]
	le.PutUint32(ph[0:], elfPTLoad)
	le.PutUint64(ph[8:], dataOff)
	le.PutUint64(ph[16:], paddr+0xffffffff80000000) // a vmlinux links high; it loads at paddr
	le.PutUint64(ph[24:], paddr)
	le.PutUint64(ph[32:], uint64(len(payload)))
	le.PutUint64(ph[40:], uint64(len(payload))+4096)
	copy(b[dataOff:], payload)
	if pvh != 0 {
		ph = b[phoff+elfPhdrSize:]
		le.PutUint32(ph[0:], elfPTNote)
		le.PutUint64(ph[8:], dataOff+uint64(len(payload)))
		le.PutUint64(ph[32:], uint64(len(note)))
		copy(b[dataOff+uint64(len(payload)):], note)
	}
	return b
}

// buildBzImage assembles a bzImage header with the given protocol version.
func buildBzImage(version uint16, payload []byte) []byte {
	le := binary.LittleEndian
	setupSects := 4
	b := make([]byte, (setupSects+1)*512+len(payload))
	b[hdrSetupSects] = byte(setupSects)
	le.PutUint16(b[hdrBootFlag:], 0xaa55)
	b[0x201] = 0x6a // header runs to 0x26c
	copy(b[hdrMagic:], "HdrS")
	le.PutUint16(b[hdrVersion:], version)
	b[hdrLoadFlags] = loadFlagLoadedHigh
	le.PutUint16(b[hdrXLoadFlags:], xlfKernel64)
	le.PutUint32(b[hdrInitrdAddrMax:], 0x7fffffff)
	le.PutUint32(b[hdrCmdlineSize:], 2047)
	le.PutUint64(b[hdrPrefAddress:], 0x1000000)
	le.PutUint32(b[hdrInitSize:], uint32(len(payload)+0x10000))
	copy(b[(setupSects+1)*512:], payload)
	return b
}

func TestParseELFWithPVHNote(t *testing.T) {
	k, err := ParseKernel(buildELF(elfMachineX86_64, 0x100000, []byte{1, 2, 3}, 0x1000000, 0x100040))
	if err != nil {
		t.Fatal(err)
	}
	if k.Protocol != BootPVH || k.Entry != 0x100040 {
		t.Fatalf("protocol %v entry %#x, want PVH at 0x100040", k.Protocol, k.Entry)
	}
	if len(k.Segments) != 1 || k.Segments[0].Addr != 0x100000 || k.Segments[0].MemSize != 3+4096 {
		t.Fatalf("segments %+v", k.Segments)
	}
}

func TestParseELFWithoutNoteUsesLinux64(t *testing.T) {
	k, err := ParseKernel(buildELF(elfMachineX86_64, 0x1000000, []byte{1}, 0x1000000, 0))
	if err != nil {
		t.Fatal(err)
	}
	if k.Protocol != BootLinux64 || k.Entry != 0x1000000 {
		t.Fatalf("protocol %v entry %#x", k.Protocol, k.Entry)
	}
}

func TestParseBzImage(t *testing.T) {
	k, err := ParseKernel(buildBzImage(0x020f, make([]byte, 1000)))
	if err != nil {
		t.Fatal(err)
	}
	if k.Format != "bzImage" || k.Entry != 0x1000200 || k.Segments[0].Addr != 0x1000000 {
		t.Fatalf("got %+v", k)
	}
	if k.Segments[0].MemSize != 1000+0x10000 {
		t.Fatalf("memsize %#x, want init_size", k.Segments[0].MemSize)
	}
	if k.CmdlineMax != 2047 || k.InitrdAddrMax != 0x7fffffff {
		t.Fatalf("cmdline max %d initrd max %#x", k.CmdlineMax, k.InitrdAddrMax)
	}
}

func TestParseKernelRejects(t *testing.T) {
	good := buildELF(elfMachineX86_64, 0x100000, []byte{1, 2, 3}, 0x100000, 0)
	cases := []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "empty"},
		{"random", []byte("this is not a kernel at all, just some text....."), "not a kernel"},
		{"truncated ELF header", good[:40], "truncated ELF header"},
		{"truncated program headers", good[:80], "truncated ELF: program headers run past the end of the file"},
		{"truncated segment", good[:len(good)-1], "truncated ELF: segment 0 (offset 0x78, size 0x3) runs past the end of the file"},
		{"aarch64", buildELF(183, 0x100000, []byte{1}, 0, 0), "AArch64"},
		{"elf32 without a multiboot header", buildELF32(elfMachine386, 0x100000, 0x100000, []byte{1}, 0x100000), "not 64-bit"},
		{"old bzImage", buildBzImage(0x0205, []byte{1}), "too old"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseKernel(c.data)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err %v, want it to mention %q", err, c.want)
			}
		})
	}
}

func TestFindPVHNoteRejectsOverlongNote(t *testing.T) {
	n := make([]byte, 16)
	binary.LittleEndian.PutUint32(n[0:], 0xffffffff)
	if _, ok := findPVHNote(n); ok {
		t.Fatal("accepted a note whose name runs past the section")
	}
}

// FuzzParseKernel feeds arbitrary bytes to the kernel parser: it must never
// panic, and whatever it accepts must describe segments inside the input.
func FuzzParseKernel(f *testing.F) {
	f.Add(buildELF(elfMachineX86_64, 0x100000, []byte{1, 2, 3}, 0x100000, 0x100010))
	f.Add(buildELF(elfMachineX86_64, 0x100000, []byte{1}, 0x100000, 0))
	f.Add(buildBzImage(0x020f, []byte{1, 2, 3, 4}))
	f.Add(buildBzImage(0x0206, []byte{1}))
	f.Add([]byte("\x7fELF"))
	f.Add(buildKludge(0x100000, []byte{0xf4}, 0x100))
	f.Add(buildELF32(elfMachine386, 0x100000, 0x100000, append(mbHeader(0), 0xf4), 0x10000c))
	f.Fuzz(func(t *testing.T, data []byte) {
		k, err := ParseKernel(data)
		if err != nil {
			return
		}
		for _, s := range k.Segments {
			if uint64(len(s.Data)) > s.MemSize || len(s.Data) > len(data) {
				t.Fatalf("segment %#x: %d data bytes, memsize %#x, input %d", s.Addr, len(s.Data), s.MemSize, len(data))
			}
		}
	})
}

// fill sets every byte of b to v, by doubling copies.
func fill(b []byte, v byte) {
	if len(b) == 0 {
		return
	}
	b[0] = v
	for n := 1; n < len(b); n *= 2 {
		copy(b[n:], b[:n])
	}
}

// wantSegments is where the kernel image itself says its bytes go, read
// without the VMM's parser: the PT_LOAD program headers through debug/elf,
// or a bzImage's protected-mode code at its preferred address. ok is false
// when the image is neither in a form this can read.
func wantSegments(data []byte) (segs []Segment, ok bool) {
	if f, err := elf.NewFile(bytes.NewReader(data)); err == nil {
		for _, p := range f.Progs {
			if p.Type != elf.PT_LOAD || p.Memsz == 0 {
				continue
			}
			if p.Filesz > uint64(len(data)) {
				return nil, false
			}
			b := make([]byte, p.Filesz)
			if _, err := p.ReadAt(b, 0); err != nil && p.Filesz > 0 {
				return nil, false
			}
			segs = append(segs, Segment{Addr: p.Paddr, Data: b, MemSize: p.Memsz})
		}
		return segs, true
	}
	if len(data) < 0x268 || string(data[0x202:0x206]) != "HdrS" {
		return nil, false
	}
	le := binary.LittleEndian
	sects := uint64(data[0x1f1])
	if sects == 0 {
		sects = 4
	}
	load := uint64(0x100000)
	if le.Uint16(data[0x206:]) >= 0x020a {
		if p := le.Uint64(data[0x258:]); p >= 0x100000 && p < 0xc0000000 {
			load = p
		}
	}
	if (sects+1)*512 >= uint64(len(data)) {
		return nil, false
	}
	code := data[(sects+1)*512:]
	size := uint64(len(code))
	if le.Uint16(data[0x206:]) >= 0x020a {
		size = max(size, uint64(le.Uint32(data[0x260:]))) // init_size: what the kernel needs from there
	}
	return []Segment{{Addr: load, Data: code, MemSize: size}}, true
}

// FuzzLoadGuest parses and loads arbitrary kernels into a small guest: no
// input may panic or write outside guest RAM, and whatever loads must sit in
// guest RAM exactly where the image says (file bytes, then zeros to the
// segment's memory size), with every other byte above 1 MiB untouched and no
// boot structure over the kernel below it.
func FuzzLoadGuest(f *testing.F) {
	f.Add(buildELF(elfMachineX86_64, 0x100000, []byte{1, 2, 3}, 0x100000, 0x100010), "console=ttyS0", 2)
	f.Add(buildELF(elfMachineX86_64, 0x200000, bytes.Repeat([]byte{7, 8, 9}, 1000), 0x200000, 0), "", 1)
	f.Add(buildBzImage(0x020f, []byte{1, 2, 3, 4}), "x", 1)
	f.Add(buildBzImage(0x0209, bytes.Repeat([]byte{0x5a}, 3000)), "", 1) // before pref_address: at 1 MiB
	lowPref := buildBzImage(0x020f, bytes.Repeat([]byte{0x3c}, 5000))
	binary.LittleEndian.PutUint64(lowPref[hdrPrefAddress:], 0x400000)
	f.Add(lowPref, "console=ttyS0", 1)
	f.Add(buildELF(elfMachineX86_64, 0xfffffffffffff000, []byte{1}, 0, 0), "", 1)
	f.Add(buildKludge(0x8000, []byte{0xf4}, 0x100), "a=1", 2)
	f.Add(buildKludge(0x1000, []byte{0xf4}, 0), "", 1)
	mem, err := NewMemory(minMemSize)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(mem.Close)
	ram, err := mem.Slice(0, mem.LowEnd())
	if err != nil {
		f.Fatal(err)
	}
	want := make([]byte, len(ram))
	const untouched = 0xa5
	f.Fuzz(func(t *testing.T, data []byte, cmdline string, cpus int) {
		k, err := ParseKernel(data)
		if err != nil {
			return
		}
		fill(ram, untouched)
		cfg := &Config{KernelName: "fuzz", Cmdline: cmdline, CPUs: max(1, min(cpus, MaxCPUs)), MemSize: minMemSize}
		loadErr := loadGuest(mem, k, cfg)
		segs, ok := wantSegments(data)
		// Only multiboot kernels may load below 1 MiB (around the VMM's
		// boot structures, which loadGuest checks).
		bottom := uint64(highMemStart)
		if k.Protocol == BootMultiboot {
			bottom = 0
		}
		fits := ok
		for _, s := range segs {
			fits = fits && s.Addr >= bottom && s.Addr+s.MemSize >= s.Addr && s.Addr+s.MemSize <= mem.LowEnd()
		}
		if loadErr != nil {
			// A PVH or Linux ELF whose segments all fit above 1 MiB, with a
			// plain short command line, has nothing to refuse.
			if fits && k.Format == "ELF" && k.Protocol != BootMultiboot && len(cmdline) < 255 && !strings.Contains(cmdline, "\x00") {
				t.Fatalf("the image's segments fit in guest RAM, but loadGuest failed: %v", loadErr)
			}
			return
		}
		if !ok {
			segs = k.Segments // at least hold the loader to the parser's word
		} else if !fits {
			t.Fatalf("loaded, but the image puts segments outside guest RAM: %+v", segs)
		}
		fill(want, untouched)
		for _, s := range segs {
			dst := want[s.Addr : s.Addr+s.MemSize]
			clear(dst[copy(dst, s.Data):])
		}
		// Above 1 MiB every byte is the kernel's or untouched; below, the
		// VMM writes its boot structures, but never over the kernel.
		check := [][2]uint64{{highMemStart, uint64(len(ram))}}
		for _, s := range segs {
			if s.Addr < highMemStart {
				check = append(check, [2]uint64{s.Addr, min(s.Addr+s.MemSize, highMemStart)})
			}
		}
		for _, r := range check {
			if got, exp := ram[r[0]:r[1]], want[r[0]:r[1]]; !bytes.Equal(got, exp) {
				for j := range got {
					if got[j] != exp[j] {
						t.Fatalf("guest byte %#x is %#x, want %#x (%d segments, the first at %#x)", r[0]+uint64(j), got[j], exp[j], len(segs), segs[0].Addr)
					}
				}
			}
		}
	})
}

// TestKernelLoadLeavesBSSUntouched: a segment's .bss tail reads as zero
// without the loader writing it, so those pages stay out of the VMM's RSS
// until the guest uses them; over RAM something already wrote, the tail is
// zeroed and given back the same way.
func TestKernelLoadLeavesBSSUntouched(t *testing.T) {
	mem, err := NewMemory(minMemSize)
	if err != nil {
		t.Fatal(err)
	}
	defer mem.Close()
	const addr, bss = 0x100000, 1 << 20
	k := &Kernel{Segments: []Segment{{Addr: addr, Data: []byte{1, 2, 3}, MemSize: 3 + bss}}}
	tail, err := mem.Slice(addr+4096, bss-4096)
	if err != nil {
		t.Fatal(err)
	}
	head, _ := mem.Slice(addr, 4096)
	for _, dirty := range []bool{false, true} {
		if dirty {
			for i := range head[3:] {
				head[3+i] = 0xa5
			}
			for i := range tail {
				tail[i] = 0xa5
			}
		}
		if err := k.load(mem); err != nil {
			t.Fatal(err)
		}
		resident, err := residentPages(tail)
		if err != nil {
			t.Fatalf("mincore: %v", err)
		}
		for i, r := range resident {
			if r {
				t.Fatalf("dirty RAM %v: page %d of the .bss tail is resident after load: the loader wrote it", dirty, i+1)
			}
		}
		if head[0] != 1 || head[2] != 3 || head[3] != 0 || head[4095] != 0 {
			t.Fatalf("dirty RAM %v: first page % x ... %x, want 01 02 03 00 ... 00", dirty, head[:4], head[4095])
		}
		for i, b := range tail {
			if b != 0 {
				t.Fatalf("dirty RAM %v: .bss byte %#x is %#x, want 0", dirty, addr+4096+i, b)
			}
		}
	}
}
