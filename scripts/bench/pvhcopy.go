package main

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
)

// multibootMagic starts a multiboot (version 1) header, which must lie in
// a file's first 8 KiB, 4-byte aligned, with magic+flags+checksum = 0.
const (
	multibootMagic  = 0x1BADB002
	multibootSearch = 8192
)

// pvhOnlyCopy writes a copy of the ELF kernel at path into dir with its
// multiboot header's magic zeroed, and returns the copy's path. QEMU boots
// a kernel through multiboot whenever it finds that header, and through the
// PVH note only otherwise; vmm and the C floor enter through PVH. The copy
// makes all three columns run the same bytes through the same entry.
func pvhOnlyCopy(path, dir string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	blankMultiboot(b)
	out := filepath.Join(dir, "tiny-pvh.elf")
	if err := os.WriteFile(out, b, 0o644); err != nil {
		return "", fmt.Errorf("write %s: %w", out, err)
	}
	return out, nil
}

// blankMultiboot zeroes the magic of every valid multiboot header in b's
// first 8 KiB and reports how many it found.
func blankMultiboot(b []byte) int {
	n := 0
	le := binary.LittleEndian
	for off := 0; off+12 <= len(b) && off < multibootSearch; off += 4 {
		if le.Uint32(b[off:]) != multibootMagic {
			continue
		}
		if le.Uint32(b[off:])+le.Uint32(b[off+4:])+le.Uint32(b[off+8:]) != 0 {
			continue
		}
		le.PutUint32(b[off:], 0)
		n++
	}
	return n
}
