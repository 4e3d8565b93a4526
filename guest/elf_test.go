package guest

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"testing"

	"vmm/internal/testutil"
)

// xenElfnotePhys32Entry is XEN_ELFNOTE_PHYS32_ENTRY from Xen's public/elfnote.h.
const xenElfnotePhys32Entry = 18

// pvhEntry checks that image is an ELF64 x86-64 executable the VMM's PVH path
// can load (identity-placed PT_LOADs between 1 MiB and the 3 GiB device hole)
// and returns the 32-bit entry point from its Xen PVH note.
func pvhEntry(image []byte) (uint32, error) {
	f, err := elf.NewFile(bytes.NewReader(image))
	if err != nil {
		return 0, err
	}
	if f.Class != elf.ELFCLASS64 || f.Machine != elf.EM_X86_64 || f.Type != elf.ET_EXEC {
		return 0, fmt.Errorf("want ELF64 x86-64 executable, got %v %v %v", f.Class, f.Machine, f.Type)
	}
	var entry uint32
	found := false
	for _, p := range f.Progs {
		switch p.Type {
		case elf.PT_LOAD:
			if p.Paddr < 0x100000 || p.Paddr+p.Memsz > 0xC0000000 {
				return 0, fmt.Errorf("PT_LOAD at %#x+%#x is outside 1 MiB..3 GiB", p.Paddr, p.Memsz)
			}
			if p.Paddr != p.Vaddr {
				return 0, fmt.Errorf("PT_LOAD p_paddr %#x != p_vaddr %#x: the kernel runs identity mapped", p.Paddr, p.Vaddr)
			}
		case elf.PT_NOTE:
			data := make([]byte, p.Filesz)
			if _, err := p.ReadAt(data, 0); err != nil {
				return 0, fmt.Errorf("reading PT_NOTE: %w", err)
			}
			for len(data) >= 12 {
				namesz := binary.LittleEndian.Uint32(data[0:])
				descsz := binary.LittleEndian.Uint32(data[4:])
				typ := binary.LittleEndian.Uint32(data[8:])
				nameEnd := 12 + (uint64(namesz)+3)&^3
				descEnd := nameEnd + (uint64(descsz)+3)&^3
				if descEnd > uint64(len(data)) {
					return 0, errors.New("truncated ELF note")
				}
				name := strings.TrimRight(string(data[12:12+namesz]), "\x00")
				if name == "Xen" && typ == xenElfnotePhys32Entry {
					if descsz != 4 && descsz != 8 {
						return 0, fmt.Errorf("PVH note descriptor is %d bytes, want 4 or 8", descsz)
					}
					entry = binary.LittleEndian.Uint32(data[nameEnd:])
					found = true
				}
				data = data[descEnd:]
			}
		}
	}
	if !found {
		return 0, errors.New("no Xen PVH note (XEN_ELFNOTE_PHYS32_ENTRY) in any PT_NOTE")
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_LOAD && p.Flags&elf.PF_X != 0 && uint64(entry) >= p.Paddr && uint64(entry) < p.Paddr+p.Filesz {
			return entry, nil
		}
	}
	return 0, fmt.Errorf("PVH entry %#x is not inside an executable PT_LOAD", entry)
}

func builtKernel(t *testing.T) []byte {
	t.Helper()
	b, err := TinyKernel()
	if errors.Is(err, ErrNotBuilt) {
		testutil.Missing(t, "guest/build/tiny.elf is missing: run `make` (make test builds it first)")
	}
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestTinyKernelIsPVHELF(t *testing.T) {
	b := builtKernel(t)
	entry, err := pvhEntry(b)
	if err != nil {
		t.Fatal(err)
	}
	f, err := elf.NewFile(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	syms, err := f.Symbols()
	if err != nil {
		t.Fatalf("the kernel keeps its symbols for debugging: %v", err)
	}
	for _, s := range syms {
		if s.Name == "pvh_start" && s.Value != uint64(entry) {
			t.Errorf("PVH note entry %#x, but pvh_start is at %#x", entry, s.Value)
		}
	}
	if entry != 0x100000 {
		t.Errorf("PVH entry %#x, want pvh_start at the link address 0x100000", entry)
	}
}

// TestPVHEntryRejectsBrokenImages proves the check above can fail: it breaks
// one thing at a time in the real kernel image.
func TestPVHEntryRejectsBrokenImages(t *testing.T) {
	good := builtKernel(t)
	f, err := elf.NewFile(bytes.NewReader(good))
	if err != nil {
		t.Fatal(err)
	}
	noteOff := -1 // offset of the first note's name in the file
	for _, p := range f.Progs {
		if p.Type == elf.PT_NOTE {
			noteOff = int(p.Off) + 12
			break
		}
	}
	if noteOff < 0 || string(good[noteOff:noteOff+4]) != "Xen\x00" {
		t.Fatal("the first PT_NOTE does not start with the Xen note")
	}
	tests := []struct {
		name   string
		break_ func(b []byte)
		want   string
	}{
		{"32-bit class", func(b []byte) { b[elf.EI_CLASS] = byte(elf.ELFCLASS32) }, ""},
		{"wrong machine", func(b []byte) { binary.LittleEndian.PutUint16(b[18:], uint16(elf.EM_AARCH64)) }, "x86-64"},
		{"note type", func(b []byte) { binary.LittleEndian.PutUint32(b[noteOff-4:], 17) }, "no Xen PVH note"},
		{"note name", func(b []byte) { copy(b[noteOff:], "Xem") }, "no Xen PVH note"},
		{"entry outside image", func(b []byte) { binary.LittleEndian.PutUint32(b[noteOff+4:], 0x10) }, "not inside"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := bytes.Clone(good)
			tc.break_(b)
			_, err := pvhEntry(b)
			if err == nil {
				t.Fatal("accepted a broken image")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not mention %q", err, tc.want)
			}
		})
	}
}

func TestErrNotBuiltSaysHowToFix(t *testing.T) {
	if !strings.Contains(ErrNotBuilt.Error(), "run `make`") {
		t.Errorf("ErrNotBuilt = %q, want it to tell the reader to run `make`", ErrNotBuilt)
	}
}

// multibootHeader checks, independently of the VMM's loader, that image has
// a multiboot header in its first 8 KiB whose address fields describe the
// same bytes as the ELF's PT_LOAD (so QEMU, which reads only the header
// for this ELF64, loads what the PVH path loads), and returns its entry.
func multibootHeader(image []byte) (uint32, error) {
	const magic, flagAddress = 0x1BADB002, 1 << 16
	le := binary.LittleEndian
	off := -1
	for i := 0; i+32 <= min(len(image), 8192); i += 4 {
		if le.Uint32(image[i:]) == magic {
			off = i
			break
		}
	}
	if off < 0 {
		return 0, errors.New("no multiboot magic 0x1BADB002 in the first 8 KiB")
	}
	h := func(i int) uint32 { return le.Uint32(image[off+4*i:]) }
	flags := h(1)
	if magic+flags+h(2) != 0 {
		return 0, fmt.Errorf("multiboot checksum %#x is wrong", h(2))
	}
	if flags&flagAddress == 0 {
		return 0, fmt.Errorf("multiboot flags %#x lack the address fields (bit 16) QEMU needs for an ELF64", flags)
	}
	headerAddr, loadAddr, loadEnd, bssEnd, entry := h(3), h(4), h(5), h(6), h(7)
	f, err := elf.NewFile(bytes.NewReader(image))
	if err != nil {
		return 0, err
	}
	for _, p := range f.Progs {
		if p.Type != elf.PT_LOAD {
			continue
		}
		fileStart := uint64(off) - uint64(headerAddr-loadAddr)
		switch {
		case uint64(loadAddr) != p.Paddr || fileStart != p.Off:
			return 0, fmt.Errorf("multiboot load_addr %#x at file offset %#x, but PT_LOAD is %#x at %#x", loadAddr, fileStart, p.Paddr, p.Off)
		case uint64(loadEnd) > p.Paddr+p.Filesz || uint64(loadEnd) < uint64(entry):
			return 0, fmt.Errorf("multiboot load_end_addr %#x is past PT_LOAD's file bytes (end %#x) or before the entry", loadEnd, p.Paddr+p.Filesz)
		case uint64(bssEnd) != p.Paddr+p.Memsz:
			return 0, fmt.Errorf("multiboot bss_end_addr %#x, but PT_LOAD ends at %#x", bssEnd, p.Paddr+p.Memsz)
		}
		return entry, nil
	}
	return 0, errors.New("no PT_LOAD")
}

func TestTinyKernelHasMultibootHeader(t *testing.T) {
	b := builtKernel(t)
	entry, err := multibootHeader(b)
	if err != nil {
		t.Fatal(err)
	}
	f, err := elf.NewFile(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	syms, err := f.Symbols()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range syms {
		if s.Name == "mb_start" && s.Value != uint64(entry) {
			t.Errorf("multiboot entry_addr %#x, but mb_start is at %#x", entry, s.Value)
		}
	}
	// The check can fail: move the load address by a page.
	broken := bytes.Clone(b)
	i := bytes.Index(broken, []byte{0x02, 0xb0, 0xad, 0x1b})
	binary.LittleEndian.PutUint32(broken[i+16:], binary.LittleEndian.Uint32(broken[i+16:])+4096)
	if _, err := multibootHeader(broken); err == nil || !strings.Contains(err.Error(), "load_addr") {
		t.Errorf("a header with load_addr off by a page: %v", err)
	}
}
