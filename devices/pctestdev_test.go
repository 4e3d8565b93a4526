package devices

import (
	"encoding/binary"
	"testing"
)

func TestPCTestDevEcho(t *testing.T) {
	d := NewPCTestDev(nil)
	read := func(off uint64, n int) uint64 {
		b := make([]byte, n)
		d.Read(off, b)
		var v [8]byte
		copy(v[:], b)
		return binary.LittleEndian.Uint64(v[:])
	}
	d.Write(pcTestEchoOffset, []byte{0x78, 0x56, 0x34, 0x12})
	steps := []struct {
		name    string
		off     uint64
		write   []byte
		readOff uint64
		readLen int
		want    uint64
	}{
		{"outl then inl", 0, nil, 0, 4, 0x12345678},
		{"inw at 0xe2", 0, nil, 2, 2, 0x1234},
		{"outb at 0xe1", 1, []byte{0xab}, 0, 4, 0x1234ab78},
		{"byte alias at 0xe8 reads the same register", 0, nil, 8, 4, 0x1234ab78},
		{"outb through the alias at 0xeb", 11, []byte{0xcd}, 0, 4, 0xcd34ab78},
		{"a write running past the register keeps its first bytes", 2, []byte{1, 2, 3, 4}, 0, 4, 0x0201ab78},
		{"the flush port reads zero and ignores writes", 4, []byte{0, 0x10, 0, 0}, 4, 4, 0},
		{"the register is unchanged by the flush write", 0, nil, 0, 4, 0x0201ab78},
		{"an 8-byte read stops at the register's end", 0, nil, 0, 8, 0x0201ab78},
		{"an offset that would wrap onto the register", 1<<64 - 2, []byte{9, 9, 9, 9}, 0, 4, 0x0201ab78},
	}
	for _, s := range steps {
		if s.write != nil {
			d.Write(s.off, s.write)
		}
		if got := read(s.readOff, s.readLen); got != s.want {
			t.Errorf("%s: read %#x, want %#x", s.name, got, s.want)
		}
	}
}

func TestPCTestDevIRQLines(t *testing.T) {
	lines := make([]*recordingIRQ, PCTestIRQLines)
	ifaces := make([]IRQLine, PCTestIRQLines)
	for i := range lines {
		lines[i] = &recordingIRQ{}
		ifaces[i] = lines[i]
	}
	p := NewPCTestDev(ifaces).IRQPorts()
	p.Write(10, []byte{1})
	p.Write(10, []byte{0})
	p.Write(23, []byte{7})
	p.Write(22, []byte{0, 1, 1}) // 22 low, 23 high, the third byte is past the last line
	p.Write(24, []byte{1})
	p.Write(1<<64-1, []byte{1, 1}) // would wrap to line 0
	if lv, n := lines[10].last(); n != 2 || lv {
		t.Errorf("line 10: %d changes, last %v; want 2, low", n, lv)
	}
	if lv, n := lines[23].last(); n != 2 || !lv {
		t.Errorf("line 23: %d changes, last %v; want 2, high", n, lv)
	}
	if lv, n := lines[22].last(); n != 1 || lv {
		t.Errorf("line 22: %d changes, last %v; want 1, low", n, lv)
	}
	for i, l := range lines {
		if _, n := l.last(); n > 0 && i != 10 && i != 22 && i != 23 {
			t.Errorf("line %d changed", i)
		}
	}
	b := []byte{0xff, 0xff}
	p.Read(3, b)
	if b[0] != 0 || b[1] != 0 {
		t.Errorf("IRQ ports read % x, want zeroes", b)
	}
	NewPCTestDev(nil).IRQPorts().Write(0, []byte{1}) // no lines: nothing to do
}
