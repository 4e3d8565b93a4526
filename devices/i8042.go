package devices

import "sync"

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
)

// I8042 is the keyboard controller, emulated just far enough for Linux's
// `reboot=k` (command 0xFE resets the machine) and a clean i8042 probe.
// Register it at I8042DataPort with size 1 and at I8042CommandPort with
// size 1 (the same value on both).
type I8042 struct {
	mu      sync.Mutex
	reset   func()
	ctr     uint8
	out     []byte
	pending uint8 // command awaiting a data byte on port 0x60
}

// NewI8042 returns a controller that calls reset when the guest asks for a
// CPU reset.
func NewI8042(reset func()) *I8042 {
	return &I8042{reset: reset, ctr: 0x45}
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
	k := p.k
	k.mu.Lock()
	defer k.mu.Unlock()
	for i := range data {
		data[i] = 0
	}
	if p.port == I8042CommandPort {
		data[0] = i8042StatusUnlk
		if len(k.out) > 0 {
			data[0] |= i8042StatusOBF
		}
		return
	}
	if len(k.out) > 0 {
		data[0] = k.out[0]
		k.out = k.out[1:]
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
