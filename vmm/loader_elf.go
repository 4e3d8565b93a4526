package vmm

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// ELF constants used by the loader (System V gABI, x86-64 and i386 psABIs).
const (
	elfClass32          = 1
	elfClass64          = 2
	elfDataLSB          = 1
	elfMachine386       = 3
	elfMachineX86_64    = 62
	elfTypeExec         = 2
	elfPTLoad           = 1
	elfPTNote           = 4
	elfHeaderSize       = 64
	elfPhdrSize         = 56
	elf32HeaderSize     = 52
	elf32PhdrSize       = 32
	xenElfnotePhys32    = 18 // XEN_ELFNOTE_PHYS32_ENTRY
	maxELFProgramHeader = 256
)

var elfMachines = map[uint16]string{3: "i386", 40: "ARM", 183: "AArch64", 243: "RISC-V", 8: "MIPS", 21: "PowerPC64", 22: "S390", 62: "x86-64"}

// elfImage is what the boot protocols need from an ELF executable.
type elfImage struct {
	class    byte // elfClass32 or elfClass64
	entry    uint64
	loads    []elfLoad
	pvhEntry uint64 // from XEN_ELFNOTE_PHYS32_ENTRY; valid when hasPVH
	hasPVH   bool
	linux    bool // a note owned by "Linux", which every vmlinux carries
}

// elfLoad is one PT_LOAD segment.
type elfLoad struct {
	paddr, vaddr, memsz uint64
	data                []byte // the file-backed part, inside the input
}

// elfHeaderFields locates the fields that differ between ELF32 and ELF64.
type elfHeaderFields struct {
	size, phdrSize                                        uint64
	entry, phoff, phentsize, phnum                        int
	phType, phOffset, phVaddr, phPaddr, phFilesz, phMemsz int
	word                                                  func([]byte) uint64 // an address or offset
	wantMachineName                                       string
	acceptMachine                                         func(uint16) bool
}

func le32(b []byte) uint64 { return uint64(binary.LittleEndian.Uint32(b)) }

var elf64Fields = elfHeaderFields{
	size: elfHeaderSize, phdrSize: elfPhdrSize,
	entry: 24, phoff: 32, phentsize: 54, phnum: 56,
	phType: 0, phOffset: 8, phVaddr: 16, phPaddr: 24, phFilesz: 32, phMemsz: 40,
	word:            binary.LittleEndian.Uint64,
	wantMachineName: "x86-64",
	acceptMachine:   func(m uint16) bool { return m == elfMachineX86_64 },
}

var elf32Fields = elfHeaderFields{
	size: elf32HeaderSize, phdrSize: elf32PhdrSize,
	entry: 24, phoff: 28, phentsize: 42, phnum: 44,
	phType: 0, phOffset: 4, phVaddr: 8, phPaddr: 12, phFilesz: 16, phMemsz: 20,
	word:            le32,
	wantMachineName: "x86 (i386)",
	acceptMachine:   func(m uint16) bool { return m == elfMachine386 || m == elfMachineX86_64 },
}

// readELF reads a little-endian x86 ELF executable, 32- or 64-bit: its
// PT_LOAD segments and the notes the loaders care about. Every offset and
// size is checked against the file before use.
func readELF(data []byte) (*elfImage, error) {
	le := binary.LittleEndian
	if len(data) < 6 {
		return nil, errors.New("truncated ELF header")
	}
	var f *elfHeaderFields
	switch data[4] {
	case elfClass64:
		f = &elf64Fields
	case elfClass32:
		f = &elf32Fields
	default:
		return nil, fmt.Errorf("ELF class %d is neither 32- nor 64-bit", data[4])
	}
	if uint64(len(data)) < f.size {
		return nil, errors.New("truncated ELF header")
	}
	if data[5] != elfDataLSB {
		return nil, errors.New("ELF is not little-endian")
	}
	if m := le.Uint16(data[18:]); !f.acceptMachine(m) {
		name := elfMachines[m]
		if name == "" {
			name = fmt.Sprintf("machine %d", m)
		}
		return nil, fmt.Errorf("ELF is for %s, not %s", name, f.wantMachineName)
	}
	if t := le.Uint16(data[16:]); t != elfTypeExec {
		return nil, fmt.Errorf("ELF type %d is not an executable (ET_EXEC)", t)
	}
	img := &elfImage{class: data[4], entry: f.word(data[f.entry:])}
	phoff := f.word(data[f.phoff:])
	phentsize := uint64(le.Uint16(data[f.phentsize:]))
	phnum := uint64(le.Uint16(data[f.phnum:]))
	if phnum == 0 {
		return nil, errors.New("ELF has no program headers")
	}
	if phentsize < f.phdrSize || phnum > maxELFProgramHeader {
		return nil, fmt.Errorf("ELF program header table is malformed (entry size %d, count %d)", phentsize, phnum)
	}
	if phoff > uint64(len(data)) || phentsize*phnum > uint64(len(data))-phoff {
		return nil, errors.New("truncated ELF: program headers run past the end of the file")
	}
	for i := uint64(0); i < phnum; i++ {
		ph := data[phoff+i*phentsize:]
		typ := le.Uint32(ph[f.phType:])
		off, vaddr, paddr := f.word(ph[f.phOffset:]), f.word(ph[f.phVaddr:]), f.word(ph[f.phPaddr:])
		filesz, memsz := f.word(ph[f.phFilesz:]), f.word(ph[f.phMemsz:])
		if off > uint64(len(data)) || filesz > uint64(len(data))-off {
			return nil, fmt.Errorf("truncated ELF: segment %d (offset %#x, size %#x) runs past the end of the file", i, off, filesz)
		}
		switch typ {
		case elfPTLoad:
			if filesz > memsz {
				return nil, fmt.Errorf("ELF segment %d has file size %#x larger than memory size %#x", i, filesz, memsz)
			}
			if paddr+memsz < paddr || vaddr+memsz < vaddr {
				return nil, fmt.Errorf("ELF segment %d wraps the address space", i)
			}
			if memsz == 0 {
				continue
			}
			img.loads = append(img.loads, elfLoad{paddr: paddr, vaddr: vaddr, memsz: memsz, data: data[off : off+filesz]})
		case elfPTNote:
			notes := data[off : off+filesz]
			if e, ok := findPVHNote(notes); ok {
				img.pvhEntry, img.hasPVH = e, true
			}
			if hasNoteOwner(notes, "Linux") {
				img.linux = true
			}
		}
	}
	if len(img.loads) == 0 {
		return nil, errors.New("ELF has no loadable segments")
	}
	return img, nil
}

// segments returns the PT_LOAD segments placed at their physical addresses.
func (img *elfImage) segments() []Segment {
	s := make([]Segment, 0, len(img.loads))
	for _, l := range img.loads {
		s = append(s, Segment{Addr: l.paddr, Data: l.data, MemSize: l.memsz})
	}
	return s
}

// elfKernel builds the Kernel for an ELF booted through PVH or the Linux
// 64-bit boot protocol.
func (img *elfImage) elfKernel(p BootProtocol) *Kernel {
	k := &Kernel{Format: "ELF", Linux: img.linux, Protocol: p, Entry: img.entry, Segments: img.segments(),
		InitrdAddrMax: mmioHoleStart - 1, CmdlineMax: cmdlineMax - 1}
	if p == BootPVH {
		k.Entry = img.pvhEntry
	}
	return k
}

// eachNote calls f for every well-formed note in an ELF note segment and
// stops at the first malformed one or when f returns false.
func eachNote(notes []byte, f func(name string, typ uint32, desc []byte) bool) {
	le := binary.LittleEndian
	align4 := func(n uint64) uint64 { return (n + 3) &^ 3 }
	for len(notes) >= 12 {
		namesz, descsz, typ := uint64(le.Uint32(notes)), uint64(le.Uint32(notes[4:])), le.Uint32(notes[8:])
		rest := uint64(len(notes)) - 12
		if align4(namesz) > rest || align4(descsz) > rest-align4(namesz) {
			return
		}
		name := notes[12 : 12+namesz]
		desc := notes[12+align4(namesz) : 12+align4(namesz)+descsz]
		if !f(string(name), typ, desc) {
			return
		}
		notes = notes[12+align4(namesz)+align4(descsz):]
	}
}

// findPVHNote looks for the Xen PVH entry (XEN_ELFNOTE_PHYS32_ENTRY).
func findPVHNote(notes []byte) (entry uint64, found bool) {
	eachNote(notes, func(name string, typ uint32, desc []byte) bool {
		if typ != xenElfnotePhys32 || name != "Xen\x00" {
			return true
		}
		switch len(desc) {
		case 4:
			entry, found = uint64(binary.LittleEndian.Uint32(desc)), true
		case 8:
			entry, found = binary.LittleEndian.Uint64(desc), true
		}
		return !found
	})
	return entry, found
}

// hasNoteOwner reports whether any note is owned by owner (e.g. "Linux",
// which every vmlinux carries).
func hasNoteOwner(notes []byte, owner string) bool {
	found := false
	eachNote(notes, func(name string, _ uint32, _ []byte) bool {
		found = name == owner+"\x00"
		return !found
	})
	return found
}
