package devices

import (
	"errors"
	"sync"
)

// i8042 ports and commands used here.
const (
	I8042DataPort    = 0x60
	I8042CommandPort = 0x64
	i8042CmdReset    = 0xfe // pulse the CPU reset line
	i8042CmdReadCTR  = 0x20
	i8042CmdWriteCTR = 0x60
	i8042CmdSelfTest = 0xaa
	i8042StatusOBF   = 0x01 // output buffer full
	i8042StatusUnlk  = 0x10 // keyboard not inhibited (no "Keylock active" warning)
	i8042CtrKbdInt   = 0x01 // CTR: interrupt on IRQ 1 when keyboard data arrives
	i8042CtrXlate    = 0x40 // CTR: translate keyboard scancodes from set 2 to set 1
	// i8042BufferSize bounds queued keyboard bytes, as the guest may never
	// read them.
	i8042BufferSize = 16
)

// ErrI8042Full is SendCtrlAltDel's answer when the guest has not read the
// keyboard bytes already queued.
var ErrI8042Full = errors.New("the i8042 keyboard buffer is full: the guest is not reading its keyboard")

// I8042 is the keyboard controller, emulated just far enough for Linux's
// `reboot=k` (command 0xFE resets the machine), a clean i8042 probe, and
// a keyboard whose only keys are Ctrl-Alt-Del (SendCtrlAltDel). Register it
// at I8042DataPort with size 1 and at I8042CommandPort with size 1 (the
// same value on both).
type I8042 struct {
	mu      sync.Mutex
	reset   func()
	irq     IRQLine // ISA IRQ 1; nil: keyboard bytes are only polled
	ctr     uint8
	out     []byte
	pending uint8 // command awaiting a data byte on port 0x60
}

// NewI8042 returns a controller that calls reset when the guest asks for a
// CPU reset.
func NewI8042(reset func()) *I8042 {
	return &I8042{reset: reset, ctr: 0x45}
}

// ConnectIRQ gives the controller its keyboard interrupt line (ISA IRQ 1).
// Call it before the guest runs.
func (k *I8042) ConnectIRQ(line IRQLine) { k.irq = line }

// Ctrl, Alt and Delete pressed, then released, in scancode set 2: the
// bytes a PC keyboard sends for the combination (Delete is an extended
// key, 0xE0-prefixed; a release is 0xF0-prefixed).
var ctrlAltDelSet2 = []byte{0x14, 0x11, 0xe0, 0x71, 0xe0, 0xf0, 0x71, 0xf0, 0x11, 0xf0, 0x14}

// set2ToSet1 translates the set 2 codes above as the controller does when
// the guest turned translation on (CTR bit 6): Linux's default.
var set2ToSet1 = map[byte]byte{0x14: 0x1d, 0x11: 0x38, 0x71: 0x53}

// SendCtrlAltDel queues the keyboard bytes for Ctrl-Alt-Del and interrupts
// the guest (when it enabled keyboard interrupts), as Firecracker's
// SendCtrlAltDel action does: a Linux guest with an i8042 and AT keyboard
// driver then reboots (or runs its ctrl-alt-del handler). Safe from any
// goroutine.
func (k *I8042) SendCtrlAltDel() error {
	k.mu.Lock()
	codes := ctrlAltDelSet2
	if k.ctr&i8042CtrXlate != 0 {
		codes = translateSet1(codes)
	}
	if len(k.out)+len(codes) > i8042BufferSize {
		k.mu.Unlock()
		return ErrI8042Full
	}
	k.out = append(k.out, codes...)
	raise := k.interruptsOn()
	k.mu.Unlock()
	if raise {
		return k.pulse()
	}
	return nil
}

// translateSet1 turns set 2 make/break codes into set 1: a release is the
// make code with bit 7 set instead of an 0xF0 prefix; 0xE0 stays.
func translateSet1(set2 []byte) []byte {
	var out []byte
	release := false
	for _, b := range set2 {
		switch b {
		case 0xe0:
			out = append(out, b)
		case 0xf0:
			release = true
		default:
			c := set2ToSet1[b]
			if release {
				c |= 0x80
			}
			out = append(out, c)
			release = false
		}
	}
	return out
}

// interruptsOn reports whether keyboard data interrupts the guest.
// Preconditions: k.mu held.
func (k *I8042) interruptsOn() bool { return k.irq != nil && k.ctr&i8042CtrKbdInt != 0 }

// pulse raises and lowers IRQ 1: one edge for the IOAPIC and the PIC.
func (k *I8042) pulse() error {
	if err := k.irq.SetLevel(true); err != nil {
		return err
	}
	return k.irq.SetLevel(false)
}

// Port returns a Device for one of the controller's two ports.
func (k *I8042) Port(port uint16) Device { return i8042Port{k, port} }

type i8042Port struct {
	k    *I8042
	port uint16
}

func (p i8042Port) Read(_ uint64, data []byte) {
	if len(data) == 0 {
		return
	}
	for i := range data {
		data[i] = 0
	}
	k := p.k
	k.mu.Lock()
	if p.port == I8042CommandPort {
		data[0] = i8042StatusUnlk
		if len(k.out) > 0 {
			data[0] |= i8042StatusOBF
		}
		k.mu.Unlock()
		return
	}
	more := false
	if len(k.out) > 0 {
		data[0] = k.out[0]
		k.out = k.out[1:]
		more = len(k.out) > 0 && k.interruptsOn()
	}
	k.mu.Unlock()
	if more {
		// The next byte is in the output buffer now: interrupt again, as
		// the controller does for each byte it presents.
		_ = k.pulse()
	}
}

func (p i8042Port) Write(_ uint64, data []byte) {
	if len(data) == 0 {
		return
	}
	k := p.k
	v := data[0]
	k.mu.Lock()
	if p.port == I8042DataPort {
		if k.pending == i8042CmdWriteCTR {
			k.ctr = v
		}
		k.pending = 0
		k.mu.Unlock()
		return
	}
	var reset func()
	switch v {
	case i8042CmdReset:
		reset = k.reset
	case i8042CmdReadCTR:
		k.out = append(k.out[:0], k.ctr)
	case i8042CmdWriteCTR:
		k.pending = v
	case i8042CmdSelfTest:
		k.out = append(k.out[:0], 0x55)
	}
	k.mu.Unlock()
	if reset != nil {
		reset()
	}
}
