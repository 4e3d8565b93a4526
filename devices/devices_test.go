package devices

import (
	"bytes"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
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

// access is one bus access as a device saw it.
type access struct {
	write  bool
	offset uint64
	data   []byte
}

// recordingDevice answers every read with its id in each byte and records
// every access, so a test can tell which device an address reached and at
// what offset.
type recordingDevice struct {
	id       byte
	mu       sync.Mutex
	accesses []access
}

func (d *recordingDevice) Read(offset uint64, data []byte) {
	for i := range data {
		data[i] = d.id
	}
	d.record(access{false, offset, nil})
}

func (d *recordingDevice) Write(offset uint64, data []byte) {
	d.record(access{true, offset, append([]byte(nil), data...)})
}

func (d *recordingDevice) record(a access) {
	d.mu.Lock()
	d.accesses = append(d.accesses, a)
	d.mu.Unlock()
}

// take returns the accesses recorded since the last call.
func (d *recordingDevice) take() []access {
	d.mu.Lock()
	defer d.mu.Unlock()
	a := d.accesses
	d.accesses = nil
	return a
}

// TestMMIOBusRouting checks that MMIO accesses reach the device registered
// for their page, at the offset from that device's base, for one-page and
// multi-page ranges, and that the neighbours of a range stay unclaimed.
func TestMMIOBusRouting(t *testing.T) {
	b := NewMMIOBus()
	one := &recordingDevice{id: 1}   // 0xd0000000, one page
	three := &recordingDevice{id: 3} // 0xd0001000, three pages
	high := &recordingDevice{id: 7}  // above 4 GiB
	for _, r := range []struct {
		base, size uint64
		dev        Device
	}{{0xd0000000, 0x1000, one}, {0xd0001000, 0x3000, three}, {0x1_0000_0000, 0x1000, high}} {
		if err := b.Register(r.base, r.size, r.dev); err != nil {
			t.Fatalf("Register(%#x, %#x): %v", r.base, r.size, err)
		}
	}
	for _, c := range []struct {
		addr   uint64
		dev    *recordingDevice
		offset uint64
	}{
		{0xd0000000, one, 0},
		{0xd0000ffc, one, 0xffc},
		{0xd0001000, three, 0},
		{0xd0002010, three, 0x1010}, // second page of the range
		{0xd0003ff8, three, 0x2ff8}, // last bytes of the range
		{0x1_0000_0004, high, 4},
	} {
		got := make([]byte, 4)
		if !b.Read(c.addr, got) || !bytes.Equal(got, bytes.Repeat([]byte{c.dev.id}, 4)) {
			t.Errorf("Read(%#x) = %x, want device %d's bytes and true", c.addr, got, c.dev.id)
		}
		if a := c.dev.take(); len(a) != 1 || a[0].write || a[0].offset != c.offset {
			t.Errorf("Read(%#x): device %d saw %+v, want one read at offset %#x", c.addr, c.dev.id, a, c.offset)
		}
		val := []byte{0xde, 0xad, 0xbe, 0xef}
		if !b.Write(c.addr, val) {
			t.Errorf("Write(%#x) unclaimed", c.addr)
		}
		if a := c.dev.take(); len(a) != 1 || !a[0].write || a[0].offset != c.offset || !bytes.Equal(a[0].data, val) {
			t.Errorf("Write(%#x): device %d saw %+v, want one write of %x at offset %#x", c.addr, c.dev.id, a, val, c.offset)
		}
	}
	for _, addr := range []uint64{0xcffffffc, 0xd0004000, 0xc0000000, 0xffff_f000, 0x1_0000_1000, 0} {
		got := []byte{1, 2, 3, 4}
		if b.Read(addr, got) || !bytes.Equal(got, []byte{0xff, 0xff, 0xff, 0xff}) {
			t.Errorf("Read(%#x) of an unclaimed page = %x, want ff ff ff ff and false", addr, got)
		}
		if b.Write(addr, got) {
			t.Errorf("Write(%#x) of an unclaimed page claimed", addr)
		}
	}
	for _, d := range []*recordingDevice{one, three, high} {
		if a := d.take(); len(a) != 0 {
			t.Errorf("device %d saw accesses meant for nobody: %+v", d.id, a)
		}
	}
}

// TestBusConcurrentLookups registers devices page by page while other
// goroutines look them up (run with -race). A reader may find a page not
// registered yet, but never another page's device; once Register has
// returned, the page must route.
func TestBusConcurrentLookups(t *testing.T) {
	const pages = 200
	const base = 0x1000
	b := NewMMIOBus()
	var registered atomic.Int64 // pages [0, registered) are on the bus
	var wg sync.WaitGroup
	stop := make(chan struct{})
	errs := make(chan string, 16)
	var hits atomic.Int64
	for r := 0; r < 4; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 4)
			for i := uint64(r); ; i = i*1103515245 + 12345 {
				select {
				case <-stop:
					return
				default:
				}
				done := registered.Load() // read before the lookup: these pages must route
				page := i % pages
				ok := b.Read(base+page*0x1000+8, buf)
				want := byte(page)
				switch {
				case ok && buf[0] == want:
					hits.Add(1)
				case ok:
					errs <- fmt.Sprintf("page %d reached device %d", page, buf[0])
					return
				case int64(page) < done:
					errs <- fmt.Sprintf("page %d unclaimed after its Register returned", page)
					return
				case !bytes.Equal(buf, []byte{0xff, 0xff, 0xff, 0xff}):
					errs <- fmt.Sprintf("unclaimed page %d read %x", page, buf)
					return
				}
			}
		}()
	}
	for i := uint64(0); i < pages; i++ {
		if err := b.Register(base+i*0x1000, 0x1000, &recordingDevice{id: byte(i)}); err != nil {
			t.Fatal(err)
		}
		registered.Store(int64(i + 1))
	}
	if err := b.Register(0x100800, 0x1000, nullDevice{}); err == nil {
		t.Fatal("MMIO bus accepted a range that is not page-aligned")
	}
	// Let the readers see the full bus for a moment before stopping them.
	for start := hits.Load(); hits.Load() < start+1000 && len(errs) == 0; {
		runtime.Gosched()
	}
	close(stop)
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	if hits.Load() == 0 {
		t.Fatal("no reader ever reached a device")
	}
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

// TestSerialCounts: only bytes that really cross the UART count, not
// divisor-latch accesses or loopback.
func TestSerialCounts(t *testing.T) {
	s := NewSerial(nil, nil)
	for _, c := range []byte("abc") {
		wr(s, uartRBR, c)
	}
	wr(s, uartLCR, lcrDLAB)
	wr(s, uartRBR, 0x01) // divisor, not output
	_ = rd(s, uartRBR)   // divisor, not input
	wr(s, uartLCR, 0x03)
	s.Enqueue([]byte("xy"))
	_, _ = rd(s, uartRBR), rd(s, uartRBR)
	_ = rd(s, uartRBR) // empty: nothing received
	wr(s, uartMCR, mcrLoop)
	wr(s, uartRBR, 'z') // loopback: not transmitted, but received
	if b := rd(s, uartRBR); b != 'z' {
		t.Fatalf("loopback read %q", b)
	}
	if out, in := s.Counts(); out != 3 || in != 3 {
		t.Fatalf("counts out %d in %d, want 3 and 3 (2 from the host, 1 looped back)", out, in)
	}
}
