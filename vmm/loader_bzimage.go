package vmm

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Offsets into a bzImage / boot_params setup header
// (Documentation/x86/boot.rst, "The Real-Mode Kernel Header").
const (
	setupHeaderStart   = 0x1f1
	hdrSetupSects      = 0x1f1
	hdrBootFlag        = 0x1fe
	hdrJump            = 0x200
	hdrMagic           = 0x202
	hdrVersion         = 0x206
	hdrTypeOfLoader    = 0x210
	hdrLoadFlags       = 0x211
	hdrCode32Start     = 0x214
	hdrRamdiskImage    = 0x218
	hdrRamdiskSize     = 0x21c
	hdrCmdLinePtr      = 0x228
	hdrInitrdAddrMax   = 0x22c
	hdrKernelAlignment = 0x230
	hdrRelocatable     = 0x234
	hdrXLoadFlags      = 0x236
	hdrCmdlineSize     = 0x238
	hdrPrefAddress     = 0x258
	hdrInitSize        = 0x260

	loadFlagLoadedHigh = 0x01
	xlfKernel64        = 0x01
	minBootProtocol    = 0x0206
)

// parseBzImage reads a bzImage: the setup header and the protected-mode
// kernel, entered through its 64-bit entry point (load address + 0x200).
func parseBzImage(data []byte) (*Kernel, error) {
	le := binary.LittleEndian
	if len(data) < 0x264 {
		return nil, errors.New("truncated bzImage: setup header is incomplete")
	}
	version := le.Uint16(data[hdrVersion:])
	if version < minBootProtocol {
		return nil, fmt.Errorf("bzImage boot protocol %d.%02d is too old: need 2.06 or newer", version>>8, version&0xff)
	}
	if data[hdrLoadFlags]&loadFlagLoadedHigh == 0 {
		return nil, errors.New("bzImage is a zImage (not loaded high): rebuild as bzImage")
	}
	if version >= 0x020c && le.Uint16(data[hdrXLoadFlags:])&xlfKernel64 == 0 {
		return nil, errors.New("bzImage has no 64-bit entry point (XLF_KERNEL_64 unset): use a 64-bit kernel")
	}
	setupSects := uint64(data[hdrSetupSects])
	if setupSects == 0 {
		setupSects = 4
	}
	pmOffset := (setupSects + 1) * 512
	if pmOffset >= uint64(len(data)) {
		return nil, fmt.Errorf("truncated bzImage: %d setup sectors but the file has %d bytes", setupSects, len(data))
	}
	hdrEnd := uint64(0x202) + uint64(data[0x201])
	if hdrEnd > pmOffset || hdrEnd <= setupHeaderStart {
		return nil, errors.New("bzImage setup header length is malformed")
	}
	load := uint64(defaultLoadAddr)
	if version >= 0x020a {
		if p := le.Uint64(data[hdrPrefAddress:]); p >= defaultLoadAddr && p < mmioHoleStart {
			load = p
		}
	}
	pm := data[pmOffset:]
	memSize := uint64(len(pm))
	if version >= 0x020a {
		if init := uint64(le.Uint32(data[hdrInitSize:])); init > memSize {
			memSize = init
		}
	}
	k := &Kernel{
		Format:        "bzImage",
		Linux:         true,
		Protocol:      BootLinux64,
		Entry:         load + 0x200,
		Segments:      []Segment{{Addr: load, Data: pm, MemSize: memSize}},
		SetupHeader:   append([]byte(nil), data[setupHeaderStart:hdrEnd]...),
		InitrdAddrMax: 0x37ffffff, // the default before protocol 2.03
		CmdlineMax:    255,
	}
	if m := uint64(le.Uint32(data[hdrInitrdAddrMax:])); m != 0 {
		k.InitrdAddrMax = m
	}
	if version >= 0x0206 {
		if n := uint64(le.Uint32(data[hdrCmdlineSize:])); n != 0 {
			// The kernel may accept more than the VMM's command-line area
			// holds: the smaller bound wins, as for an ELF kernel.
			k.CmdlineMax = min(n, cmdlineMax-1)
		}
	}
	return k, nil
}
