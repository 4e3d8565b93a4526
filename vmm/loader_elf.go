package vmm

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// ELF constants used by the loader (System V gABI, x86-64 psABI).
const (
	elfClass64          = 2
	elfDataLSB          = 1
	elfMachineX86_64    = 62
	elfTypeExec         = 2
	elfPTLoad           = 1
	elfPTNote           = 4
	elfHeaderSize       = 64
	elfPhdrSize         = 56
	xenElfnotePhys32    = 18 // XEN_ELFNOTE_PHYS32_ENTRY
	maxELFProgramHeader = 256
)

var elfMachines = map[uint16]string{3: "i386", 40: "ARM", 183: "AArch64", 243: "RISC-V", 8: "MIPS", 21: "PowerPC64", 22: "S390"}

// parseELF reads an ELF64 x86-64 executable: its PT_LOAD segments (placed at
// their physical addresses) and, if present, the PVH entry note. Every
// offset and size is checked against the file before use.
func parseELF(data []byte) (*Kernel, error) {
	if len(data) < elfHeaderSize {
		return nil, errors.New("truncated ELF header")
	}
	if data[4] != elfClass64 {
		return nil, errors.New("ELF is not 64-bit (ELFCLASS64): use an x86-64 vmlinux")
	}
	if data[5] != elfDataLSB {
		return nil, errors.New("ELF is not little-endian")
	}
	le := binary.LittleEndian
	if m := le.Uint16(data[18:]); m != elfMachineX86_64 {
		name := elfMachines[m]
		if name == "" {
			name = fmt.Sprintf("machine %d", m)
		}
		return nil, fmt.Errorf("ELF is for %s, not x86-64", name)
	}
	if t := le.Uint16(data[16:]); t != elfTypeExec {
		return nil, fmt.Errorf("ELF type %d is not an executable (ET_EXEC)", t)
	}
	entry := le.Uint64(data[24:])
	phoff := le.Uint64(data[32:])
	phentsize := uint64(le.Uint16(data[54:]))
	phnum := uint64(le.Uint16(data[56:]))
	if phnum == 0 {
		return nil, errors.New("ELF has no program headers")
	}
	if phentsize < elfPhdrSize || phnum > maxELFProgramHeader {
		return nil, fmt.Errorf("ELF program header table is malformed (entry size %d, count %d)", phentsize, phnum)
	}
	if phoff > uint64(len(data)) || phentsize*phnum > uint64(len(data))-phoff {
		return nil, errors.New("truncated ELF: program headers run past the end of the file")
	}
	k := &Kernel{Format: "ELF", Protocol: BootLinux64, Entry: entry,
		InitrdAddrMax: mmioHoleStart - 1, CmdlineMax: cmdlineMax - 1}
	var pvh uint64
	for i := uint64(0); i < phnum; i++ {
		ph := data[phoff+i*phentsize:]
		typ := le.Uint32(ph[0:])
		off, paddr := le.Uint64(ph[8:]), le.Uint64(ph[24:])
		filesz, memsz := le.Uint64(ph[32:]), le.Uint64(ph[40:])
		if off > uint64(len(data)) || filesz > uint64(len(data))-off {
			return nil, fmt.Errorf("truncated ELF: segment %d (offset %#x, size %#x) runs past the end of the file", i, off, filesz)
		}
		switch typ {
		case elfPTLoad:
			if filesz > memsz {
				return nil, fmt.Errorf("ELF segment %d has file size %#x larger than memory size %#x", i, filesz, memsz)
			}
			if paddr+memsz < paddr {
				return nil, fmt.Errorf("ELF segment %d wraps the address space", i)
			}
			if memsz == 0 {
				continue
			}
			k.Segments = append(k.Segments, Segment{Addr: paddr, Data: data[off : off+filesz], MemSize: memsz})
		case elfPTNote:
			notes := data[off : off+filesz]
			if e, ok := findPVHNote(notes); ok {
				pvh = e
			}
			if hasNoteOwner(notes, "Linux") {
				k.Linux = true
			}
		}
	}
	if len(k.Segments) == 0 {
		return nil, errors.New("ELF has no loadable segments")
	}
	if pvh != 0 {
		k.Protocol, k.Entry = BootPVH, pvh
	}
	return k, nil
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
