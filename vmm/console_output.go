package vmm

import (
	"fmt"
	"io"
	"sync"

	"github.com/sirupsen/logrus"
)

// consoleBacklog bounds guest output waiting for a slow console. The UART
// never blocks a vCPU: past this backlog, output is dropped and counted.
// A Linux boot log is about 50 KB, so only a stalled console loses bytes.
// (The pump may hold one more backlog's worth while it writes.)
const consoleBacklog = 1 << 20

// consoleOutput carries guest serial output off the vCPU path. The UART
// appends to a bounded buffer under a short lock and returns; one pump
// goroutine writes the buffer to the sink, so a stalled stdout stalls only
// the pump. A sink that fails (EPIPE from a closed pipe, ENOSPC) stops the
// VM through onError; output after that is discarded.
type consoleOutput struct {
	sink    io.Writer
	limit   uint64 // bytes the sink may receive; 0 = no limit
	onError func(error)

	mu      sync.Mutex
	pending []byte // guarded by mu
	dropped uint64 // guarded by mu: bytes lost to a full backlog
	closing bool   // guarded by mu

	wake    chan struct{} // capacity 1: "pending has data or closing"
	done    chan struct{} // closed when the pump has exited
	started bool          // start has run; set and read by the goroutine that owns the VM

	// Owned by the pump goroutine.
	written   uint64
	limitHit  bool
	failed    bool
	discarded uint64 // bytes past the limit or after a failure
}

func newConsoleOutput(sink io.Writer, limit uint64, onError func(error)) *consoleOutput {
	if sink == nil {
		sink = io.Discard
	}
	return &consoleOutput{sink: sink, limit: limit, onError: onError,
		wake: make(chan struct{}, 1), done: make(chan struct{})}
}

// Write queues guest output. It never blocks and never fails: bytes that do
// not fit the backlog are dropped and counted.
func (c *consoleOutput) Write(p []byte) (int, error) {
	c.mu.Lock()
	room := consoleBacklog - len(c.pending)
	n := min(len(p), room)
	c.pending = append(c.pending, p[:n]...)
	c.dropped += uint64(len(p) - n)
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
	return len(p), nil
}

// start launches the pump for vm's lifetime. A panic in it stops the VM.
func (c *consoleOutput) start(vm *VM) {
	c.started = true
	go func() {
		defer vm.RecoverPanic("console output")
		c.pump()
	}()
}

// pump writes queued output to the sink until close is called and the
// backlog is empty.
func (c *consoleOutput) pump() {
	defer close(c.done)
	var spare []byte
	for {
		<-c.wake
		for {
			// Swap buffers: writers fill one while the other is written.
			c.mu.Lock()
			out, closing := c.pending, c.closing
			if len(out) > 0 {
				c.pending = spare[:0]
			}
			c.mu.Unlock()
			if len(out) == 0 {
				if closing {
					return
				}
				break
			}
			c.emit(out)
			spare = out
		}
	}
}

// emit writes one chunk, honouring the size limit and a failed sink.
func (c *consoleOutput) emit(p []byte) {
	if c.failed || c.limitHit {
		c.discarded += uint64(len(p))
		return
	}
	if c.limit > 0 && c.written+uint64(len(p)) > c.limit {
		keep := c.limit - c.written
		c.discarded += uint64(len(p)) - keep
		p = p[:keep]
		c.limitHit = true
	}
	if len(p) > 0 {
		n, err := c.sink.Write(p)
		c.written += uint64(n)
		if err != nil {
			c.failed = true
			if c.onError != nil {
				c.onError(err)
			}
			return
		}
	}
	if c.limitHit {
		note := fmt.Sprintf("\n[vmm: the console reached its limit of %s; further guest output is discarded]\n", FormatSize(c.limit))
		_, _ = io.WriteString(c.sink, note)
		logrus.WithField("limit", FormatSize(c.limit)).Warn("console output limit reached; discarding further guest output")
	}
}

// close asks the pump to write what is queued and exit, and waits for it.
// It blocks as long as the sink does: a console nobody reads holds it up,
// which is why a second stop signal exits without waiting (cmd/vmm).
func (c *consoleOutput) close() {
	if !c.started {
		return
	}
	c.mu.Lock()
	c.closing = true
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
	<-c.done
}

// lost returns the bytes dropped for a full backlog and those discarded
// past the limit or after the sink failed. Call it after close.
func (c *consoleOutput) lost() (dropped, discarded uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.dropped, c.discarded
}
