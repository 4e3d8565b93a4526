package devices

import (
	"io"
	"sync"
	"sync/atomic"
)

// 8250/16550A UART register offsets and bits (see the PC16550D datasheet).
const (
	uartRBR = 0 // read: receive buffer; write: THR; DLAB: divisor low
	uartIER = 1 // interrupt enable; DLAB: divisor high
	uartIIR = 2 // read: interrupt identification; write: FCR
	uartLCR = 3
	uartMCR = 4
	uartLSR = 5
	uartMSR = 6
	uartSCR = 7

	ierRDA  = 0x01 // received data available
	ierTHRE = 0x02 // transmitter holding register empty
	ierRLS  = 0x04 // receiver line status
	ierMS   = 0x08 // modem status

	iirNone    = 0x01
	iirTHRE    = 0x02
	iirRDA     = 0x04
	iirFIFOs   = 0xc0
	lcrDLAB    = 0x80
	mcrLoop    = 0x10
	lsrDR      = 0x01
	lsrOE      = 0x02
	lsrTHRE    = 0x20
	lsrTEMT    = 0x40
	fcrEnable  = 0x01
	fcrClearRX = 0x02

	// msrIdle is DCD|DSR|CTS: a terminal is attached and ready.
	msrIdle = 0xb0

	// SerialSize is the number of I/O ports the UART decodes.
	SerialSize = 8
	// serialRXLimit bounds buffered input; bytes past it are dropped and
	// the overrun bit is set, as a real UART does.
	serialRXLimit = 4096
)

// Serial is an 8250-compatible UART with 16550A FIFOs, enough for the
// Linux 8250 driver (autodetection, console, interactive shell).
type Serial struct {
	mu      sync.Mutex
	out     io.Writer // must not block: the VMM buffers console output off the vCPU path
	tx      [1]byte   // the byte being transmitted, so Write needs no allocation
	irq     IRQLine
	ier     uint8
	lcr     uint8
	mcr     uint8
	lsrOE   bool
	scr     uint8
	dll     uint8
	dlm     uint8
	fcr     uint8
	thrIntr bool // THRE interrupt pending (cleared by reading IIR or writing THR)
	rx      []byte
	level   bool

	// Bytes the guest wrote to THR (out) and read from RBR (in), for
	// metrics; read without the lock.
	bytesOut, bytesIn atomic.Uint64
}

// Counts returns how many bytes the guest has transmitted and received.
func (s *Serial) Counts() (out, in uint64) { return s.bytesOut.Load(), s.bytesIn.Load() }

// NewSerial returns a UART that writes guest output to out (nil discards)
// and signals irq (nil for none). out is called with the device lock held,
// from vCPU threads: it must return at once (see vmm's consoleOutput).
func NewSerial(out io.Writer, irq IRQLine) *Serial {
	if out == nil {
		out = io.Discard
	}
	return &Serial{out: out, irq: irq, dll: 12 /* 9600 baud */}
}

// Enqueue queues host input for the guest to read and raises the RX
// interrupt if enabled. It never blocks.
func (s *Serial) Enqueue(p []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	room := serialRXLimit - len(s.rx)
	if len(p) > room {
		p = p[:room]
		s.lsrOE = true
	}
	s.rx = append(s.rx, p...)
	s.updateIRQ()
}

// Read implements Device.
func (s *Serial) Read(offset uint64, data []byte) {
	if len(data) == 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range data {
		data[i] = 0
	}
	data[0] = s.readReg(offset)
	s.updateIRQ()
}

// Write implements Device. Only the first byte of a wider access counts,
// as on the real 8-bit port.
func (s *Serial) Write(offset uint64, data []byte) {
	if len(data) == 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.writeReg(offset, data[0])
	s.updateIRQ()
}

func (s *Serial) readReg(offset uint64) uint8 {
	switch offset {
	case uartRBR:
		if s.lcr&lcrDLAB != 0 {
			return s.dll
		}
		if len(s.rx) == 0 {
			return 0
		}
		b := s.rx[0]
		s.rx = s.rx[1:]
		s.bytesIn.Add(1)
		if len(s.rx) == 0 {
			s.rx = nil // let the backing array go
		}
		return b
	case uartIER:
		if s.lcr&lcrDLAB != 0 {
			return s.dlm
		}
		return s.ier
	case uartIIR:
		id := s.pendingIIR()
		if id == iirTHRE {
			s.thrIntr = false // reading IIR acknowledges THRE
		}
		if s.fcr&fcrEnable != 0 {
			id |= iirFIFOs
		}
		return id
	case uartLCR:
		return s.lcr
	case uartMCR:
		return s.mcr
	case uartLSR:
		v := uint8(lsrTHRE | lsrTEMT)
		if len(s.rx) > 0 {
			v |= lsrDR
		}
		if s.lsrOE {
			v |= lsrOE
			s.lsrOE = false
		}
		return v
	case uartMSR:
		if s.mcr&mcrLoop != 0 {
			// Loopback: DTR→DSR, RTS→CTS, OUT1→RI, OUT2→DCD.
			m := s.mcr
			return (m&0x02)<<3 | (m&0x01)<<5 | (m&0x04)<<4 | (m&0x08)<<4
		}
		return msrIdle
	case uartSCR:
		return s.scr
	}
	return 0
}

func (s *Serial) writeReg(offset uint64, v uint8) {
	switch offset {
	case uartRBR:
		if s.lcr&lcrDLAB != 0 {
			s.dll = v
			return
		}
		if s.mcr&mcrLoop != 0 {
			if len(s.rx) < serialRXLimit {
				s.rx = append(s.rx, v)
			}
		} else {
			// The console reports its own failures; the UART carries on.
			s.tx[0] = v
			_, _ = s.out.Write(s.tx[:])
			s.bytesOut.Add(1)
		}
		s.thrIntr = true // THR is empty again at once
	case uartIER:
		if s.lcr&lcrDLAB != 0 {
			s.dlm = v
			return
		}
		if v&ierTHRE != 0 && s.ier&ierTHRE == 0 {
			s.thrIntr = true // enabling ETBEI with THR empty interrupts at once
		}
		s.ier = v & 0x0f
	case uartIIR: // FCR
		if v&fcrClearRX != 0 {
			s.rx = nil
		}
		s.fcr = v
	case uartLCR:
		s.lcr = v
	case uartMCR:
		s.mcr = v & 0x1f
	case uartSCR:
		s.scr = v
	}
}

// pendingIIR returns the highest-priority pending interrupt identification.
func (s *Serial) pendingIIR() uint8 {
	switch {
	case s.ier&ierRDA != 0 && len(s.rx) > 0:
		return iirRDA
	case s.ier&ierTHRE != 0 && s.thrIntr:
		return iirTHRE
	}
	return iirNone
}

// updateIRQ drives the interrupt line from the pending state. On a PC the
// UART's IRQ reaches the PIC only when MCR.OUT2 is set.
//
// Preconditions: s.mu held.
func (s *Serial) updateIRQ() {
	level := s.pendingIIR() != iirNone && s.mcr&0x08 != 0
	if level == s.level || s.irq == nil {
		s.level = level
		return
	}
	s.level = level
	_ = s.irq.SetLevel(level)
}
