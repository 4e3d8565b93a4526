package vmm

import (
	"strings"
	"testing"
	"time"
)

// panickingDevice stands in for a device-model bug: any access panics.
type panickingDevice struct{}

func (panickingDevice) Read(uint64, []byte)  { panic("device model bug (read)") }
func (panickingDevice) Write(uint64, []byte) { panic("device model bug (write)") }

// TestPanicInVCPUThreadStopsVM: a panic on a vCPU's exit path (here a
// device handler) must end the VM with status 1 and one line naming where,
// not crash the process.
func TestPanicInVCPUThreadStopsVM(t *testing.T) {
	// mov dx, 0x500; out dx, al; hlt; jmp .-3
	vm := newTestVM(t, []byte{0x66, 0xba, 0x00, 0x05, 0xee, 0xf4, 0xeb, 0xfd}, nil)
	defer vm.Close()
	if err := vm.pio.Register(0x500, 1, panickingDevice{}); err != nil {
		t.Fatal(err)
	}
	done := make(chan Result, 1)
	go func() { done <- vm.Run() }()
	select {
	case res := <-done:
		if res.Status != 1 || res.Err == nil {
			t.Fatalf("result %+v, want status 1 with an error", res)
		}
		msg := res.Err.Error()
		if !strings.Contains(msg, "internal error in vCPU 0") || !strings.Contains(msg, "device model bug (write)") || strings.Contains(msg, "\n") {
			t.Fatalf("error %q, want one line naming vCPU 0 and the panic", msg)
		}
	case <-time.After(time.Minute): // hang guard
		t.Fatal("the VM did not stop after a panic on its vCPU thread")
	}
}

// TestPanicInVMMGoroutineStopsVM: the same for any other goroutine that
// defers RecoverPanic.
func TestPanicInVMMGoroutineStopsVM(t *testing.T) {
	vm := newTestVM(t, haltForever, nil)
	defer vm.Close()
	go func() {
		defer vm.RecoverPanic("test goroutine")
		panic("boom")
	}()
	res := vm.Run()
	if res.Status != 1 || res.Err == nil || !strings.Contains(res.Err.Error(), "internal error in test goroutine: boom") {
		t.Fatalf("result %+v", res)
	}
}
