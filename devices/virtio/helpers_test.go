package virtio

import (
	"errors"
	"sync"
	"testing"

	"vmm/devices/virtio/virtiotest"
	"vmm/guestmem"
)

// stubDevice is a device with one queue that records what the transport
// does to it. Reset finishes when release is closed (or at once if nil).
type stubDevice struct {
	mu          sync.Mutex
	activations []Activation
	resets      int
	release     chan struct{}
	config      [8]byte
	activateErr error
}

func (d *stubDevice) Type() uint32 { return 42 }
func (d *stubDevice) Features() uint64 {
	return FeatureVersion1 | FeatureEventIdx | FeatureIndirectDesc | 1<<3
}
func (d *stubDevice) QueueMaxSizes() []uint16 { return []uint16{16} }
func (d *stubDevice) ConfigSize() int         { return len(d.config) }
func (d *stubDevice) ReadConfig(off int, data []byte) {
	copy(data, d.config[off:])
}
func (d *stubDevice) WriteConfig(off int, data []byte) { copy(d.config[off:], data) }
func (d *stubDevice) Activate(a Activation) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.activations = append(d.activations, a)
	return d.activateErr
}
func (d *stubDevice) Reset(done func()) {
	d.mu.Lock()
	d.resets++
	rel := d.release
	d.mu.Unlock()
	if rel == nil {
		done()
		return
	}
	go func() { <-rel; done() }()
}

type reasons struct {
	mu   sync.Mutex
	list []error
}

func (r *reasons) add(err error) { r.mu.Lock(); r.list = append(r.list, err); r.mu.Unlock() }
func (r *reasons) has(target error) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, e := range r.list {
		if errors.Is(e, target) {
			return true
		}
	}
	return false
}
func (r *reasons) count() int { r.mu.Lock(); defer r.mu.Unlock(); return len(r.list) }

// newRig builds guest RAM, a stub device on a transport, and a driver.
func newRig(t *testing.T) (*guestmem.Memory, *stubDevice, *Transport, *virtiotest.Driver, *reasons) {
	t.Helper()
	mem, err := guestmem.New([]guestmem.Range{{GPA: 0, Size: 1 << 20}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(mem.Close)
	dev := &stubDevice{}
	var rs reasons
	tr, err := NewTransport(mem, dev, NewInterrupt(-1), []int{-1}, rs.add)
	if err != nil {
		t.Fatal(err)
	}
	return mem, dev, tr, virtiotest.New(tr, mem, 0x10000, 1<<20), &rs
}
