package devices

import (
	"bytes"
	"encoding/binary"
	"sync"
	"testing"
)

// fwCfgRead selects key with a 16-bit write to the selector and reads n
// bytes, one inb at a time, from the data port.
func fwCfgRead(f *FWCfg, key uint16, n int) []byte {
	f.Write(0, binary.LittleEndian.AppendUint16(nil, key))
	out := make([]byte, n)
	for i := range out {
		b := []byte{0xee}
		f.Read(1, b)
		out[i] = b[0]
	}
	return out
}

func TestFWCfgItems(t *testing.T) {
	f := NewFWCfg(3<<30+512<<20, 4, 8)
	le := binary.LittleEndian
	cases := []struct {
		name string
		key  uint16
		want []byte
	}{
		{"signature", 0x00, []byte("QEMU\x00\x00")},
		{"RAM size", 0x03, le.AppendUint64(nil, 3<<30+512<<20)},
		{"CPU count", 0x05, []byte{4, 0, 0}},
		{"max CPUs", 0x0f, []byte{8, 0}},
		{"ID: not provided", 0x01, make([]byte, 4)},
		{"file directory: not provided", 0x19, make([]byte, 8)},
		{"write-channel bit is ignored", 0x4005, []byte{4, 0}},
		{"arch-local key with the same number", 0x8005, []byte{0, 0}},
		{"largest key", 0xffff, []byte{0, 0}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := fwCfgRead(f, c.key, len(c.want)); !bytes.Equal(got, c.want) {
				t.Fatalf("key %#x reads % x, want % x", c.key, got, c.want)
			}
		})
	}
}

func TestFWCfgAccessSizes(t *testing.T) {
	f := NewFWCfg(256<<20, 2, 2)
	// After reset the signature is selected, as in QEMU.
	first := make([]byte, 2)
	f.Read(1, first)
	if string(first) != "QE" {
		t.Fatalf("a 2-byte read after reset gave %q, want the first two signature bytes", first)
	}
	f.Read(0, first) // the selector port reads data too
	if string(first) != "MU" {
		t.Fatalf("then %q from the selector port, want \"MU\"", first)
	}
	f.Write(1, []byte{0x05}) // a data write: ignored, selects nothing
	f.Write(0, []byte{0x03}) // a byte to the selector: a data write too
	wide := make([]byte, 8)  // a wide read runs on past the item's end
	f.Read(1, wide)
	if !bytes.Equal(wide, make([]byte, 8)) {
		t.Fatalf("reads past the signature: % x, want zeroes", wide)
	}
	f.Write(1, []byte{0x05, 0x00}) // a 16-bit write selects at either port
	f.Read(1, wide)
	if !bytes.Equal(wide, []byte{2, 0, 0, 0, 0, 0, 0, 0}) {
		t.Fatalf("CPU count after a 16-bit select at the data port: % x", wide)
	}
	f.Write(0, []byte{0x03, 0x00, 0xff, 0xff}) // outl: the low 16 bits select
	f.Read(1, wide)
	if binary.LittleEndian.Uint64(wide) != 256<<20 {
		t.Fatalf("RAM size after outl select: % x", wide)
	}
	f.Read(1, nil)
	f.Write(0, nil)
	f.Read(0x1234, make([]byte, 3))
}

// TestFWCfgConcurrent: vCPUs hammering the device race on the selection
// (as they would on QEMU) but never corrupt it; -race checks the locking.
func TestFWCfgConcurrent(t *testing.T) {
	f := NewFWCfg(1<<30, 4, 4)
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 1000; i++ {
				f.Write(0, []byte{byte(i % 16), 0})
				f.Read(1, make([]byte, 3))
			}
		}()
	}
	wg.Wait()
	if got := fwCfgRead(f, 0, 4); string(got) != "QEMU" {
		t.Fatalf("signature %q after concurrent use", got)
	}
}
