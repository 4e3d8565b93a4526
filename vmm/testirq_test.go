package vmm

import (
	"encoding/binary"
	"runtime"
	"sync"
	"testing"

	"vmm/devices"
)

// TestTestIRQFloodUsesOneWorker: a guest hammering the "fire the test
// irqfd" port must not start a goroutine per write (500 at once before
// the fix), and Close must join the worker before the eventfd closes.
func TestTestIRQFloodUsesOneWorker(t *testing.T) {
	vm := newTestVM(t, haltForever, func(c *Config) { c.TestExit = true })
	before := runtime.NumGoroutine()
	var wg sync.WaitGroup
	var b [4]byte
	binary.LittleEndian.PutUint32(b[:], 1)
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 125; i++ {
				vm.pio.Write(devices.TestDevicePort+8, append([]byte(nil), b[:]...))
			}
		}()
	}
	wg.Wait()
	if n := runtime.NumGoroutine(); n > before+2 {
		t.Errorf("%d goroutines after 500 interrupt requests, %d before: requests must coalesce in one worker", n, before)
	}
	w := vm.testIRQ
	vm.Close()
	select {
	case <-w.done:
	default:
		t.Fatal("Close returned while the test irqfd worker was still running")
	}
	if w.efd.fd >= 0 {
		// eventFD.close sets fd to -1 once closed; a later signal then
		// fails with EBADF instead of writing to a reused number.
		t.Fatalf("eventfd %d still open after Close", w.efd.fd)
	}
}
