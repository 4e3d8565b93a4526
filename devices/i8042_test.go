package devices

import (
	"bytes"
	"errors"
	"testing"
)

// readKeyboard drains the controller's output buffer the way a guest
// driver does: status port first, data port while OBF is set.
func readKeyboard(k *I8042) []byte {
	cmd, data := k.Port(I8042CommandPort), k.Port(I8042DataPort)
	var out []byte
	for i := 0; i < 64 && rd(cmd, 0)&i8042StatusOBF != 0; i++ {
		out = append(out, rd(data, 0))
	}
	return out
}

func setCTR(k *I8042, v uint8) {
	wr(k.Port(I8042CommandPort), 0, i8042CmdWriteCTR)
	wr(k.Port(I8042DataPort), 0, v)
}

func TestI8042CtrlAltDel(t *testing.T) {
	cases := []struct {
		name       string
		ctr        uint8
		want       []byte
		wantPulses int // rising edges on IRQ 1
	}{
		// Translation off, interrupts on: set 2, one edge per byte.
		{"set 2", i8042CtrKbdInt, []byte{0x14, 0x11, 0xe0, 0x71, 0xe0, 0xf0, 0x71, 0xf0, 0x11, 0xf0, 0x14}, 11},
		// Linux's default CTR translates: set 1, releases have bit 7.
		{"set 1", i8042CtrKbdInt | i8042CtrXlate, []byte{0x1d, 0x38, 0xe0, 0x53, 0xe0, 0xd3, 0xb8, 0x9d}, 8},
		// Interrupts off: the bytes are there for a polling driver, no edge.
		{"polled", 0, []byte{0x14, 0x11, 0xe0, 0x71, 0xe0, 0xf0, 0x71, 0xf0, 0x11, 0xf0, 0x14}, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			irq := &recordingIRQ{}
			k := NewI8042(func() {})
			k.ConnectIRQ(irq)
			setCTR(k, c.ctr)
			if err := k.SendCtrlAltDel(); err != nil {
				t.Fatal(err)
			}
			got := readKeyboard(k)
			if !bytes.Equal(got, c.want) {
				t.Errorf("bytes % x, want % x", got, c.want)
			}
			rising := 0
			for i, l := range irq.levels {
				if l {
					rising++
					if i+1 >= len(irq.levels) || irq.levels[i+1] {
						t.Errorf("edge %d was not lowered again: levels %v", rising, irq.levels)
					}
				}
			}
			if rising != c.wantPulses {
				t.Errorf("%d edges on IRQ 1, want %d", rising, c.wantPulses)
			}
		})
	}
}

func TestI8042CtrlAltDelBufferFull(t *testing.T) {
	k := NewI8042(func() {})
	setCTR(k, i8042CtrKbdInt)
	if err := k.SendCtrlAltDel(); err != nil {
		t.Fatal(err)
	}
	// The guest read nothing: a second sequence would overflow 16 bytes.
	if err := k.SendCtrlAltDel(); !errors.Is(err, ErrI8042Full) {
		t.Fatalf("second send: %v, want ErrI8042Full", err)
	}
	if got := readKeyboard(k); len(got) != 11 {
		t.Fatalf("%d bytes queued after the refusal, want the first 11", len(got))
	}
	if err := k.SendCtrlAltDel(); err != nil {
		t.Fatalf("after the guest read: %v", err)
	}
}
