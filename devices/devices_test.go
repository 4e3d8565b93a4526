package devices

import (
	"bytes"
	"sync"
	"testing"
)

// recordingIRQ remembers every level change.
type recordingIRQ struct {
	mu     sync.Mutex
	levels []bool
}

func (r *recordingIRQ) SetLevel(high bool) error {
	r.mu.Lock()
	r.levels = append(r.levels, high)
	r.mu.Unlock()
	return nil
}

func (r *recordingIRQ) last() (bool, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.levels) == 0 {
		return false, 0
	}
	return r.levels[len(r.levels)-1], len(r.levels)
}

func rd(d Device, off uint64) uint8 {
	b := []byte{0}
	d.Read(off, b)
	return b[0]
}

func wr(d Device, off uint64, v uint8) { d.Write(off, []byte{v}) }

func TestSerialOutputAndDivisorLatch(t *testing.T) {
	var out bytes.Buffer
	s := NewSerial(&out, nil)
	for _, c := range []byte("hi\n") {
		wr(s, uartRBR, c)
	}
	if out.String() != "hi\n" {
		t.Fatalf("output %q", out.String())
	}
	wr(s, uartLCR, lcrDLAB)
	wr(s, uartRBR, 0x01) // divisor low, not output
	wr(s, uartIER, 0x00)
	if rd(s, uartRBR) != 0x01 || out.Len() != 3 {
		t.Fatalf("DLAB write leaked to output or divisor lost")
	}
	wr(s, uartLCR, 0x03)
	if rd(s, uartLSR)&(lsrTHRE|lsrTEMT) != lsrTHRE|lsrTEMT {
		t.Fatal("transmitter not reported empty")
	}
}

// TestSerialLinuxProbe replays what Linux's 8250 autoconfig checks: the
// scratch register, loopback MSR mirroring, and the 16550A FIFO signature.
func TestSerialLinuxProbe(t *testing.T) {
	s := NewSerial(nil, nil)
	wr(s, uartSCR, 0xa5)
	if rd(s, uartSCR) != 0xa5 {
		t.Fatal("scratch register")
	}
	wr(s, uartMCR, mcrLoop|0x0a) // loopback, RTS, OUT2
	if got := rd(s, uartMSR) & 0xf0; got != 0x90 {
		t.Fatalf("loopback MSR %#x, want 0x90 (CTS|DCD)", got)
	}
	wr(s, uartRBR, 'Z') // loops back to the receiver
	if rd(s, uartLSR)&lsrDR == 0 || rd(s, uartRBR) != 'Z' {
		t.Fatal("loopback data did not come back")
	}
	wr(s, uartMCR, 0)
	wr(s, uartIIR, 0xe7) // enable FIFOs
	if rd(s, uartIIR)&0xc0 != 0xc0 {
		t.Fatal("FIFO bits not reported: Linux would not see a 16550A")
	}
}

func TestSerialInterrupts(t *testing.T) {
	irq := &recordingIRQ{}
	s := NewSerial(nil, irq)
	wr(s, uartMCR, 0x08) // OUT2 gates the IRQ on a PC
	wr(s, uartIER, ierTHRE)
	if lvl, _ := irq.last(); !lvl {
		t.Fatal("enabling THRE with an empty THR did not interrupt")
	}
	if rd(s, uartIIR)&0x0f != iirTHRE {
		t.Fatal("IIR does not say THRE")
	}
	if lvl, _ := irq.last(); lvl {
		t.Fatal("reading IIR did not acknowledge THRE")
	}
	wr(s, uartIER, ierRDA)
	s.Enqueue([]byte("ab"))
	if lvl, _ := irq.last(); !lvl || rd(s, uartIIR)&0x0f != iirRDA {
		t.Fatal("input did not raise the RX interrupt")
	}
	if rd(s, uartRBR) != 'a' || rd(s, uartRBR) != 'b' {
		t.Fatal("input order")
	}
	if lvl, _ := irq.last(); lvl {
		t.Fatal("RX interrupt still raised after draining")
	}
	wr(s, uartMCR, 0)
	s.Enqueue([]byte("c"))
	if lvl, _ := irq.last(); lvl {
		t.Fatal("interrupt raised with OUT2 clear")
	}
}

func TestSerialInputOverrunIsBounded(t *testing.T) {
	s := NewSerial(nil, nil)
	s.Enqueue(make([]byte, serialRXLimit+100))
	if len(s.rx) != serialRXLimit || rd(s, uartLSR)&lsrOE == 0 {
		t.Fatalf("rx %d bytes, overrun not reported", len(s.rx))
	}
}

// TestDevicesSurviveHostileAccesses: any offset, any size, never a panic.
func TestDevicesSurviveHostileAccesses(t *testing.T) {
	td := NewTestDevice(func(uint32) {}, func() {})
	k := NewI8042(func() {})
	pc := NewPCTestDev([]IRQLine{&recordingIRQ{}, &recordingIRQ{}})
	devs := []Device{NewSerial(nil, nil), td, td.MMIO(), k.Port(I8042DataPort), k.Port(I8042CommandPort),
		NewFWCfg(1<<30, 1, 1), pc, pc.IRQPorts()}
	for _, d := range devs {
		for _, size := range []int{0, 1, 2, 3, 4, 8, 16} {
			for _, off := range []uint64{0, 1, 4, 7, 8, 0xfff, 1<<64 - 4, 1 << 63} {
				b := make([]byte, size)
				d.Read(off, b)
				d.Write(off, b)
			}
		}
	}
}

func TestI8042ResetAndSelfTest(t *testing.T) {
	resets := 0
	k := NewI8042(func() { resets++ })
	cmd, data := k.Port(I8042CommandPort), k.Port(I8042DataPort)
	wr(cmd, 0, i8042CmdSelfTest)
	if rd(cmd, 0)&i8042StatusOBF == 0 || rd(data, 0) != 0x55 {
		t.Fatal("self-test did not answer 0x55")
	}
	wr(cmd, 0, i8042CmdWriteCTR)
	wr(data, 0, 0x47)
	wr(cmd, 0, i8042CmdReadCTR)
	if rd(data, 0) != 0x47 {
		t.Fatal("controller configuration byte not kept")
	}
	wr(cmd, 0, i8042CmdReset)
	if resets != 1 {
		t.Fatalf("%d resets", resets)
	}
}

func TestTestDevice(t *testing.T) {
	status, fired := uint32(0), 0
	td := NewTestDevice(func(v uint32) { status = v }, func() { fired++ })
	td.Write(testScratchOffset, []byte{0x78, 0x56, 0x34, 0x12})
	b := make([]byte, 4)
	td.MMIO().Read(0, b)
	if !bytes.Equal(b, []byte{0x78, 0x56, 0x34, 0x12}) {
		t.Fatalf("MMIO echo %x", b)
	}
	td.Write(testIRQOffset, []byte{1, 0, 0, 0})
	td.Write(testExitOffset, []byte{0x03, 0x01, 0, 0})
	if status != 0x103 || fired != 1 {
		t.Fatalf("status %d fired %d", status, fired)
	}
}

func TestBus(t *testing.T) {
	b := NewPIOBus()
	s := NewSerial(nil, nil)
	if err := b.Register(0x3f8, 8, s); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []struct{ base, size uint64 }{{0x3f0, 9}, {0x3ff, 1}, {0x100, 0}, {^uint64(0), 2}, {0x10000, 1 << 20}} {
		if err := b.Register(bad.base, bad.size, s); err == nil {
			t.Errorf("Register(%#x, %#x) accepted", bad.base, bad.size)
		}
	}
	if err := b.Register(0x3f0, 8, s); err != nil {
		t.Fatalf("adjacent range refused: %v", err)
	}
	wr(s, uartSCR, 0x42)
	got := []byte{0}
	if !b.Read(0x3ff, got) || got[0] != 0x42 {
		t.Fatal("bus did not route to offset 7")
	}
	if b.Read(0x400, got) || got[0] != 0xff {
		t.Fatal("unclaimed read should return 0xff and false")
	}
	if b.Write(0x3f7+0x100, got) {
		t.Fatal("unclaimed write claimed")
	}
}

// TestBusConcurrentLookups registers devices while other goroutines look
// addresses up (run with -race).
func TestBusConcurrentLookups(t *testing.T) {
	b := NewMMIOBus()
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 4)
			for {
				select {
				case <-stop:
					return
				default:
					b.Read(0x1000, buf)
				}
			}
		}()
	}
	for i := uint64(0); i < 200; i++ {
		if err := b.Register(0x1000+i*0x1000, 0x1000, NewTestDevice(nil, nil).MMIO()); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Register(0x100800, 0x1000, nullDevice{}); err == nil {
		t.Fatal("MMIO bus accepted a range that is not page-aligned")
	}
	close(stop)
	wg.Wait()
}

// nullDevice does nothing, so the benchmark measures the bus alone.
type nullDevice struct{}

func (nullDevice) Read(uint64, []byte)  {}
func (nullDevice) Write(uint64, []byte) {}

// BenchmarkBusLookup measures one dispatch on a bus with 16 port devices
// (about what a microVM has), from 1 and from GOMAXPROCS vCPU goroutines.
func BenchmarkBusLookup(b *testing.B) {
	bus := NewPIOBus()
	for i := uint64(0); i < 16; i++ {
		_ = bus.Register(0x100+i*0x10, 8, nullDevice{})
	}
	b.Run("serial", func(b *testing.B) {
		buf := make([]byte, 4)
		b.ReportAllocs()
		for b.Loop() {
			bus.Read(0x100+7*0x10+4, buf)
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			buf := make([]byte, 4)
			for pb.Next() {
				bus.Read(0x100+7*0x10+4, buf)
			}
		})
	})
}
