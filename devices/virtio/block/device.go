package block

import (
	"errors"
	"fmt"
	"sync"

	"vmm/devices/virtio"
)

// Config describes one disk.
type Config struct {
	// ID is the GET_ID answer (at most IDLength bytes; NUL-padded).
	ID       string
	ReadOnly bool
	// Capacity is the disk size in 512-byte sectors.
	Capacity uint64
	// BlockSize is the logical block size advertised (BLK_SIZE): 512, or
	// the O_DIRECT offset alignment when larger.
	BlockSize uint32
	// Flush offers VIRTIO_BLK_F_FLUSH. Without it negotiated the device
	// writes through (every write durable before it completes).
	Flush bool
	// Unsafe offers no FLUSH and does not write through either: nothing
	// the guest writes is made durable by the device (Firecracker's
	// cache_type "Unsafe"). It overrides Flush.
	Unsafe bool
	// Backends has one backend per queue (the device has one queue). The
	// device owns them from New on and closes them in Close.
	Backends []Backend
	// Log receives rate-limited warnings about what a guest did wrong.
	Log func(msg string, err error)
}

// Device is a virtio block device. It implements virtio.Device.
type Device struct {
	cfg   Config
	stats *Stats

	mu      sync.Mutex // guards cfg's Backends and Capacity, workers, and replace's fields
	workers []*worker
	replace replaceState
}

// New returns a block device. It takes ownership of cfg.Backends.
func New(cfg Config) (*Device, error) {
	if len(cfg.Backends) != 1 {
		return nil, fmt.Errorf("block: %d backends for 1 queue", len(cfg.Backends))
	}
	if len(cfg.ID) > IDLength {
		return nil, fmt.Errorf("block: id %q is longer than %d bytes", cfg.ID, IDLength)
	}
	d := &Device{cfg: cfg, stats: newStats(cfg.Log)}
	d.replace.shown = cfg.Capacity
	return d, nil
}

// Type implements virtio.Device.
func (d *Device) Type() uint32 { return DeviceID }

// Features implements virtio.Device.
func (d *Device) Features() uint64 { return d.cfg.features() }

// QueueMaxSizes implements virtio.Device.
func (d *Device) QueueMaxSizes() []uint16 { return []uint16{QueueSize} }

// ConfigSize implements virtio.Device.
func (d *Device) ConfigSize() int { return configSize }

// ReadConfig implements virtio.Device.
func (d *Device) ReadConfig(offset int, data []byte) {
	d.mu.Lock()
	cfg := d.cfg
	cfg.Capacity = d.replace.shown
	d.mu.Unlock()
	c := cfg.configSpace()
	copy(data, c[offset:])
}

// WriteConfig implements virtio.Device: no field is writable (the device
// does not offer CONFIG_WCE).
func (d *Device) WriteConfig(int, []byte) {}

// Backend names the backend serving the device, for logs.
func (d *Device) Backend() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.cfg.Backends[0].Name()
}

// Stats returns the device's counters.
func (d *Device) Stats() *Stats { return d.stats }

// TransportViolation counts and logs (rate-limited, as the worker's own) a
// protocol violation the transport found in the driver's register writes;
// pass it as virtio.NewTransport's onNeedsReset.
func (d *Device) TransportViolation(err error) { d.stats.violation(err) }

// Activate implements virtio.Device: one worker per ready queue.
func (d *Device) Activate(a virtio.Activation) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.workers) != 0 {
		return errors.New("block: activated twice without a reset")
	}
	q := a.Queues[0]
	if !q.Ready {
		return fmt.Errorf("%w: queue 0 is not ready", virtio.ErrQueueLayout)
	}
	dk := &disk{capacity: d.cfg.Capacity, blockSize: d.cfg.blockSize(), readOnly: d.cfg.ReadOnly, features: a.Features,
		unsafe: d.cfg.Unsafe}
	w := newWorker(q, d.cfg.Backends[0], a.IRQ, dk, d.cfg.ID, d.stats, a.NeedsReset)
	d.workers = append(d.workers, w)
	go w.run()
	return nil
}

// Reset implements virtio.Device: each worker stops taking requests, waits
// for the ones in flight to finish, and exits; done runs after the last.
func (d *Device) Reset(done func()) {
	d.mu.Lock()
	ws := d.workers
	d.workers = nil
	d.mu.Unlock()
	if len(ws) == 0 {
		done()
		return
	}
	go func() {
		for _, w := range ws {
			w.stop()
		}
		done()
	}()
}

// Close stops the workers, waits for in-flight I/O, and closes the
// backends. The device must not be used afterwards.
func (d *Device) Close() error {
	d.mu.Lock()
	ws := d.workers
	d.workers = nil
	d.replace.closed = true
	d.mu.Unlock()
	for _, w := range ws {
		w.stop()
	}
	d.stats.flushLog()
	var errs []error
	for _, be := range d.cfg.Backends {
		errs = append(errs, be.Close())
	}
	return errors.Join(errs...)
}
