package guest

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"strings"
	"testing"
)

// tailDisk is a disk of size bytes that reads as zeroes except data at base:
// a 16 MiB crash region start without 16 MiB of memory per test.
type tailDisk struct {
	base, size int64
	data       []byte
}

func (d *tailDisk) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 || off >= d.size {
		return 0, io.EOF
	}
	n := int(min(int64(len(p)), d.size-off))
	clear(p[:n])
	// Copy the part of data that overlaps [off, off+n).
	lo, hi := max(off, d.base), min(off+int64(n), d.base+int64(len(d.data)))
	if lo < hi {
		copy(p[lo-off:hi-off], d.data[lo-d.base:hi-d.base])
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func hostPatternDisk() []byte {
	img := make([]byte, (HostCheckStart+HostCheckSectors+8)*SectorSize)
	for s := uint64(HostCheckStart); s < HostCheckStart+HostCheckSectors; s++ {
		for o := uint64(0); o < SectorSize; o += 8 {
			binary.LittleEndian.PutUint64(img[s*SectorSize+o:], HostCheckWord(s, o))
		}
	}
	return img
}

func TestCheckHostPattern(t *testing.T) {
	tests := []struct {
		name    string
		damage  func(img []byte) []byte
		wantErr string
	}{
		{"intact", func(img []byte) []byte { return img }, ""},
		{"one bit flipped in the last word", func(img []byte) []byte {
			img[(HostCheckStart+HostCheckSectors)*SectorSize-1] ^= 0x80
			return img
		}, "sector 2303 byte 504"},
		{"sector written to its neighbour", func(img []byte) []byte {
			copy(img[2100*SectorSize:2101*SectorSize], img[2101*SectorSize:])
			return img
		}, "sector 2100 byte 0"},
		{"never written", func(img []byte) []byte { return make([]byte, len(img)) }, "sector 2048 byte 0"},
		{"disk too small", func(img []byte) []byte { return img[:2100*SectorSize] }, "reading the host-check sectors"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckHostPattern(bytes.NewReader(tc.damage(hostPatternDisk())))
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
}

const testSlots = 16

// crashDisk lays out blocks 0..written-1 of run as blk_crash would on a disk with testSlots slots.
func crashDisk(written uint64, run uint64) *tailDisk {
	d := &tailDisk{base: CrashStart * SectorSize, size: CrashStart*SectorSize + testSlots*CrashBlockSize}
	d.data = make([]byte, testSlots*CrashBlockSize)
	for k := uint64(0); k < written; k++ {
		copy(d.data[k*CrashBlockSize:], CrashBlock(k, testSlots, run))
	}
	return d
}

func TestCheckCrashImage(t *testing.T) {
	const run = 0x1234abcd
	tests := []struct {
		name          string
		written       uint64
		flushed       uint64
		damage        func(d *tailDisk)
		wantErr       string
		wantUnflushed uint64
	}{
		{name: "everything flushed", written: 16, flushed: 16},
		{name: "writes past the last flush survived", written: 12, flushed: 8, wantUnflushed: 4},
		{name: "nothing flushed yet", written: 0, flushed: 0},
		{name: "a flushed block lost", written: 8, flushed: 8, damage: func(d *tailDisk) {
			clear(d.data[3*CrashBlockSize : 4*CrashBlockSize])
		}, wantErr: "block 3 of 8 flushed is not intact"},
		{name: "a flushed block torn", written: 8, flushed: 8, damage: func(d *tailDisk) {
			d.data[5*CrashBlockSize+1000] ^= 1
		}, wantErr: "block 5 of 8 flushed is not intact"},
		{name: "an unflushed block torn is allowed", written: 10, flushed: 8, damage: func(d *tailDisk) {
			d.data[9*CrashBlockSize+1000] ^= 1
		}, wantUnflushed: 1},
		{name: "a block in the wrong slot", written: 8, flushed: 4, damage: func(d *tailDisk) {
			copy(d.data[6*CrashBlockSize:], CrashBlock(2, testSlots, run))
		}, wantErr: "slot 6 holds intact block 2"},
		{name: "a block from another run", written: 8, flushed: 8, damage: func(d *tailDisk) {
			copy(d.data[7*CrashBlockSize:], CrashBlock(7, testSlots, run+1))
		}, wantErr: "block 7 is from run"},
		{name: "a block with the wrong slot count", written: 8, flushed: 8, damage: func(d *tailDisk) {
			copy(d.data[2*CrashBlockSize:], CrashBlock(2, testSlots+1, run))
		}, wantErr: "block 2 says the region has 17 slots"},
		{name: "more flushed than the region holds", written: 16, flushed: 17, wantErr: "region holds 16"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := crashDisk(tc.written, run)
			if tc.damage != nil {
				tc.damage(d)
			}
			rep, err := CheckCrashImage(d, d.size, tc.flushed)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if rep.Slots != testSlots || rep.Unflushed != tc.wantUnflushed {
				t.Errorf("report %+v, want %d slots and %d unflushed", rep, testSlots, tc.wantUnflushed)
			}
			if tc.written > 0 && rep.Run != run {
				t.Errorf("run %#x, want %#x", rep.Run, run)
			}
		})
	}
}

func TestCheckCrashImageNoRegion(t *testing.T) {
	if _, err := CheckCrashImage(bytes.NewReader(nil), CrashStart*SectorSize, 0); err == nil {
		t.Fatal("a disk that ends where the crash region starts passed")
	}
}

func TestLastCrashFlush(t *testing.T) {
	tests := []struct {
		name    string
		out     string
		want    uint64
		wantErr string
	}{
		{"several", "blk_crash: disk 0\nblk_crash: flushed 8\nblk_crash: flushed 16\n", 16, ""},
		{"carriage returns", "blk_crash: flushed 8\r\nblk_crash: flushed 16\r\n", 16, ""},
		{"cut short by the kill", "blk_crash: flushed 120\nblk_crash: flushed 12", 120, ""},
		{"none", "PASS serial\n", 0, ErrNoCrashFlush.Error()},
		{"garbage number", "blk_crash: flushed 1x\n", 0, "malformed line"},
		{"going back", "blk_crash: flushed 16\nblk_crash: flushed 8\n", 0, "went back"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := LastCrashFlush(tc.out)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("LastCrashFlush = %d, %v; want %d", got, err, tc.want)
			}
		})
	}
}

// FuzzCheckCrashImage feeds arbitrary region contents (as a killed guest
// might leave them) to the checker: it must answer, never panic, and never
// pass a region whose flushed blocks are not the ones blk_crash writes.
func FuzzCheckCrashImage(f *testing.F) {
	f.Add(crashDisk(4, 7).data[:4*CrashBlockSize], uint64(4))
	f.Add([]byte{}, uint64(0))
	f.Add(bytes.Repeat([]byte{0xff}, CrashBlockSize), uint64(1))
	f.Fuzz(func(t *testing.T, region []byte, flushed uint64) {
		d := &tailDisk{base: CrashStart * SectorSize, size: CrashStart*SectorSize + testSlots*CrashBlockSize, data: region}
		rep, err := CheckCrashImage(d, d.size, flushed%(testSlots+2))
		if err != nil {
			return
		}
		for k := uint64(0); k < rep.Flushed; k++ {
			blk := make([]byte, CrashBlockSize)
			if _, err := d.ReadAt(blk, CrashStart*SectorSize+int64(k)*CrashBlockSize); err != nil && !errors.Is(err, io.EOF) {
				t.Fatal(err)
			}
			if !bytes.Equal(blk, CrashBlock(k, testSlots, rep.Run)) {
				t.Fatalf("block %d passed but is not what blk_crash writes", k)
			}
		}
	})
}

func FuzzLastCrashFlush(f *testing.F) {
	f.Add("blk_crash: flushed 8\nblk_crash: flushed 16\n")
	f.Add("blk_crash: flushed 18446744073709551615\n")
	f.Fuzz(func(t *testing.T, out string) {
		n, err := LastCrashFlush(out)
		if err == nil && !strings.Contains(out, "blk_crash: flushed ") {
			t.Fatalf("found %d in output without a flushed line", n)
		}
	})
}

func TestSpecDeviations(t *testing.T) {
	out := "PASS blk_rw\nblk_id: disk 0: spec deviation: id byte 13 after the terminating NUL is ff\r\nblk_id: disk 0 at feb00e00: \"x\"\n"
	got := SpecDeviations(out)
	if len(got) != 1 || got[0] != "blk_id: disk 0: spec deviation: id byte 13 after the terminating NUL is ff" {
		t.Fatalf("SpecDeviations = %q", got)
	}
	if got := SpecDeviations("PASS blk_id\n"); got != nil {
		t.Fatalf("SpecDeviations of clean output = %q", got)
	}
}
