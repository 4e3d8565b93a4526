package vmm

import (
	"bytes"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
)

// blockingSink blocks every write until released, like a pipe whose reader
// stopped reading.
type blockingSink struct {
	release chan struct{}
	mu      sync.Mutex
	buf     bytes.Buffer
}

func (b *blockingSink) Write(p []byte) (int, error) {
	<-b.release
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// TestConsoleOutputNeverBlocksTheWriter: with the sink stalled, the UART's
// writes still return at once (before, a stalled stdout blocked every vCPU
// touching the UART), the backlog is bounded, and what was queued reaches
// the sink once it moves again.
func TestConsoleOutputNeverBlocksTheWriter(t *testing.T) {
	sink := &blockingSink{release: make(chan struct{})}
	c := newConsoleOutput(sink, 0, nil)
	c.start(&VM{stopped: make(chan struct{})})
	chunk := bytes.Repeat([]byte("x"), 4096)
	total := 0
	for total < 2*consoleBacklog { // would block forever on a synchronous sink
		n, err := c.Write(chunk)
		if n != len(chunk) || err != nil {
			t.Fatalf("Write = %d, %v", n, err)
		}
		total += n
	}
	close(sink.release)
	c.close()
	dropped, _ := c.lost()
	got := uint64(sink.buf.Len())
	if got+dropped != uint64(total) || dropped == 0 || got > 2*consoleBacklog {
		t.Fatalf("sink got %d, dropped %d, of %d written: the backlog must bound what waits", got, dropped, total)
	}
}

// TestConsoleOutputLimit: past the limit the sink gets one note and nothing more.
func TestConsoleOutputLimit(t *testing.T) {
	var sink bytes.Buffer
	c := newConsoleOutput(&sink, 1000, nil)
	c.start(&VM{stopped: make(chan struct{})})
	for i := 0; i < 100; i++ {
		c.Write(bytes.Repeat([]byte("y"), 100))
	}
	c.close()
	out := sink.String()
	body, note, ok := strings.Cut(out, "\n[vmm: the console reached its limit")
	if !ok || len(body) != 1000 || strings.Count(out, "[vmm:") != 1 || !strings.HasSuffix(note, "further guest output is discarded]\n") {
		t.Fatalf("sink got %d bytes: %q", len(out), out[max(0, len(out)-200):])
	}
	if _, discarded := c.lost(); discarded != 9000 {
		t.Fatalf("discarded %d, want 9000", discarded)
	}
}

type failingSink struct{ n int }

func (f *failingSink) Write(p []byte) (int, error) { f.n++; return 0, errors.New("broken pipe") }

// TestConsoleOutputSinkFailure: a failing sink is reported once (the VM
// stops) and is not written again.
func TestConsoleOutputSinkFailure(t *testing.T) {
	sink := &failingSink{}
	var reports []error
	c := newConsoleOutput(sink, 0, func(err error) { reports = append(reports, err) })
	c.start(&VM{stopped: make(chan struct{})})
	for i := 0; i < 10; i++ {
		c.Write([]byte("z"))
	}
	c.close()
	if len(reports) != 1 || sink.n != 1 {
		t.Fatalf("%d reports, %d writes to the failed sink; want 1 and 1", len(reports), sink.n)
	}
}

// TestConsoleOutputBurstsKeepBuffersApart writes in bursts with idle gaps,
// so the pump often wakes to an empty backlog: the buffer the writers fill
// must never be the one being written out (a race the -race detector saw
// in the first version's buffer swap), and every byte arrives in order.
func TestConsoleOutputBurstsKeepBuffersApart(t *testing.T) {
	sink := &slowSink{}
	c := newConsoleOutput(sink, 0, nil)
	c.start(&VM{stopped: make(chan struct{})})
	var want bytes.Buffer
	for burst := 0; burst < 300; burst++ {
		for i := 0; i < 10; i++ {
			b := []byte{byte('a' + (burst+i)%26)}
			c.Write(b)
			want.Write(b)
		}
		if burst%3 == 0 {
			time.Sleep(100 * time.Microsecond)
		}
	}
	c.close()
	if sink.buf.String() != want.String() {
		t.Fatalf("sink got %d bytes, want %d in order", sink.buf.Len(), want.Len())
	}
}

// slowSink takes a little while per write, so writers keep filling the
// backlog while the pump is inside Write.
type slowSink struct{ buf bytes.Buffer }

func (s *slowSink) Write(p []byte) (int, error) {
	time.Sleep(20 * time.Microsecond)
	return s.buf.Write(p)
}
