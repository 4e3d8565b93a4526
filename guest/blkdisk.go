package guest

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// The disk layout the tiny kernel's virtio-blk cases (kernel/tests_blk.c)
// share with host tests; docs/guest.md describes it. Sectors are 512 bytes.
const (
	SectorSize = 512

	// BlkCases are the cases test=blk runs, in order.
	BlkCases = "blk_rw,blk_flush,blk_id,blk_discard,blk_zeroes,blk_ro,blk_multiseg,blk_indirect,blk_qd64,blk_reset"

	// BlkHostileCases are the cases test=blk_hostile runs, in order.
	BlkHostileCases = "blk_h_ring,blk_h_chain,blk_h_indirect,blk_h_noindirect,blk_h_memory,blk_h_status," +
		"blk_h_header,blk_h_bounds,blk_h_unsupp,blk_h_ro,blk_h_layout,blk_h_liveregs,blk_h_nofeatok,blk_h_flood"

	// MinBlkDiskBytes is the smallest writable disk test=blk works on;
	// PerfDiskBytes the smallest blk_perf works on.
	MinBlkDiskBytes = 16384 * SectorSize
	PerfDiskBytes   = 32768 * SectorSize

	// blk_rw leaves HostCheckSectors sectors of pattern from HostCheckStart:
	// the little-endian word at byte offset o of sector s is HostCheckWord(s, o).
	HostCheckStart   = 2048
	HostCheckSectors = 256
	HostCheckTag     = uint64(0x564d4d424c4b0000)

	// blk_crash writes CrashBlockSize-byte blocks from sector CrashStart;
	// block k goes to slot k, so it starts at sector CrashStart + 8k.
	CrashStart     = 32768
	CrashBlockSize = 4096
	CrashMagic     = uint64(0x485341524b4c4256) // "VBLKRASH" in little-endian bytes
	crashMaxSlots  = 1 << 24
	crashWords     = CrashBlockSize / 8
	fnvOffset      = uint64(0xcbf29ce484222325)
	fnvPrime       = uint64(0x100000001b3)
)

// HostCheckWord is the word blk_rw leaves at byte offset off of sector.
func HostCheckWord(sector, off uint64) uint64 {
	return HostCheckTag ^ sector<<16 ^ off
}

// CheckHostPattern reports the first place the disk differs from the pattern blk_rw leaves.
func CheckHostPattern(disk io.ReaderAt) error {
	buf := make([]byte, HostCheckSectors*SectorSize)
	if _, err := disk.ReadAt(buf, HostCheckStart*SectorSize); err != nil {
		return fmt.Errorf("reading the host-check sectors: %w", err)
	}
	for i := 0; i < len(buf); i += 8 {
		s, o := uint64(HostCheckStart+i/SectorSize), uint64(i%SectorSize)
		if got, want := binary.LittleEndian.Uint64(buf[i:]), HostCheckWord(s, o); got != want {
			return fmt.Errorf("sector %d byte %d holds %#x, want %#x", s, o, got, want)
		}
	}
	return nil
}

// CrashSlots is how many blocks blk_crash has room for on a disk of size bytes.
func CrashSlots(size int64) uint64 {
	sectors := uint64(size) / SectorSize
	if size < 0 || sectors < CrashStart {
		return 0
	}
	slots := (sectors - CrashStart) / (CrashBlockSize / SectorSize)
	return min(slots, crashMaxSlots)
}

// CrashBlock returns block k as blk_crash writes it: magic, k, slots, run,
// filler words run ^ k<<16 ^ i, and an FNV-1a checksum over the first 511
// words taken as 64-bit units.
func CrashBlock(k, slots, run uint64) []byte {
	w := make([]uint64, crashWords)
	w[0], w[1], w[2], w[3] = CrashMagic, k, slots, run
	for i := uint64(4); i < crashWords-1; i++ {
		w[i] = run ^ k<<16 ^ i
	}
	h := fnvOffset
	for _, x := range w[:crashWords-1] {
		h = (h ^ x) * fnvPrime
	}
	w[crashWords-1] = h
	b := make([]byte, CrashBlockSize)
	for i, x := range w {
		binary.LittleEndian.PutUint64(b[8*i:], x)
	}
	return b
}

// crashBlockValid reports whether b is a well-formed blk_crash block and returns its words 1-3.
func crashBlockValid(b []byte) (k, slots, run uint64, ok bool) {
	if binary.LittleEndian.Uint64(b) != CrashMagic {
		return 0, 0, 0, false
	}
	h := fnvOffset
	for i := 0; i < crashWords-1; i++ {
		h = (h ^ binary.LittleEndian.Uint64(b[8*i:])) * fnvPrime
	}
	if h != binary.LittleEndian.Uint64(b[CrashBlockSize-8:]) {
		return 0, 0, 0, false
	}
	k, slots, run = binary.LittleEndian.Uint64(b[8:]), binary.LittleEndian.Uint64(b[16:]), binary.LittleEndian.Uint64(b[24:])
	for i := uint64(4); i < crashWords-1; i++ {
		if binary.LittleEndian.Uint64(b[8*i:]) != run^k<<16^i {
			return 0, 0, 0, false
		}
	}
	return k, slots, run, true
}

// CrashReport is what CheckCrashImage found.
type CrashReport struct {
	Flushed   uint64 // the count the guest last reported flushed
	Slots     uint64 // blocks the region holds
	Run       uint64 // the run id every block carries
	Unflushed uint64 // intact blocks past Flushed (written, flush not yet reported)
}

// CheckCrashImage checks a disk blk_crash was killed on: every block below
// flushed (the last "blk_crash: flushed <n>" the guest printed) must be
// intact, in its own slot and of one run. A block past flushed may be in
// any state, except an intact block in the wrong slot or from another run.
func CheckCrashImage(disk io.ReaderAt, size int64, flushed uint64) (CrashReport, error) {
	rep := CrashReport{Flushed: flushed, Slots: CrashSlots(size)}
	if rep.Slots == 0 {
		return rep, fmt.Errorf("a %d-byte disk has no blk_crash region (it starts at byte %d)", size, CrashStart*SectorSize)
	}
	if flushed > rep.Slots {
		return rep, fmt.Errorf("guest reported %d blocks flushed, but the region holds %d", flushed, rep.Slots)
	}
	r := bufio.NewReaderSize(io.NewSectionReader(disk, CrashStart*SectorSize, int64(rep.Slots)*CrashBlockSize), 256<<10)
	b := make([]byte, CrashBlockSize)
	haveRun := false
	for k := uint64(0); k < rep.Slots; k++ {
		if _, err := io.ReadFull(r, b); err != nil {
			return rep, fmt.Errorf("reading block %d: %w", k, err)
		}
		got, slots, run, ok := crashBlockValid(b)
		if !ok {
			if k < flushed {
				return rep, fmt.Errorf("block %d of %d flushed is not intact (magic %#x)", k, flushed, binary.LittleEndian.Uint64(b))
			}
			continue
		}
		switch {
		case got != k:
			return rep, fmt.Errorf("slot %d holds intact block %d", k, got)
		case slots != rep.Slots:
			return rep, fmt.Errorf("block %d says the region has %d slots; the disk gives %d", k, slots, rep.Slots)
		case haveRun && run != rep.Run:
			return rep, fmt.Errorf("block %d is from run %#x, earlier blocks from run %#x", k, run, rep.Run)
		}
		rep.Run, haveRun = run, true
		if k >= flushed {
			rep.Unflushed++
		}
	}
	return rep, nil
}

// SpecDeviations returns the lines in a tiny kernel's output that report
// device behaviour the virtio spec forbids but the driver can live with
// ("<case>: disk N: spec deviation: ..."); the case still passes. A test of
// the project's own device should want none.
func SpecDeviations(out string) []string {
	var devs []string
	for line := range strings.Lines(out) {
		if strings.Contains(line, ": spec deviation: ") {
			devs = append(devs, strings.TrimRight(line, "\r\n"))
		}
	}
	return devs
}

// ErrNoCrashFlush means the output holds no "blk_crash: flushed <n>" line.
var ErrNoCrashFlush = errors.New(`no "blk_crash: flushed <n>" line in the output`)

// LastCrashFlush returns the n of the last complete "blk_crash: flushed <n>"
// line in out. A last line without its newline is ignored: a guest killed
// while printing "flushed 128" may leave "flushed 12".
func LastCrashFlush(out string) (uint64, error) {
	var last uint64
	found := false
	for line := range strings.Lines(out) {
		if !strings.HasSuffix(line, "\n") {
			break
		}
		rest, ok := strings.CutPrefix(strings.TrimRight(line, "\r\n"), "blk_crash: flushed ")
		if !ok {
			continue
		}
		n, err := strconv.ParseUint(rest, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("malformed line %q: %w", line, err)
		}
		if found && n < last {
			return 0, fmt.Errorf("flushed count went back from %d to %d", last, n)
		}
		last, found = n, true
	}
	if !found {
		return 0, ErrNoCrashFlush
	}
	return last, nil
}
