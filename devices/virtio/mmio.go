package virtio

import (
	"encoding/binary"
	"fmt"
	"sync"

	"golang.org/x/sys/unix"

	"vmm/guestmem"
)

// Transport is one virtio-mmio device (virtio 1.2, 4.2): the register
// window a guest driver programs, and the status state machine that decides
// which writes are allowed when. It implements devices.Device; vCPU threads
// call it concurrently.
//
// State rules enforced here, each a driver requirement of the spec:
//   - feature words are written only between DRIVER and FEATURES_OK;
//     FEATURES_OK sticks only for a subset of the offered features that
//     includes VERSION_1;
//   - queue registers are accepted only between FEATURES_OK and DRIVER_OK,
//     and a queue's addresses and size only while it is not ready;
//   - status bits are only ever added, except by writing 0 (reset);
//   - DRIVER_OK needs FEATURES_OK.
//
// A write that breaks a rule once the device is live (DRIVER_OK) sets
// DEVICE_NEEDS_RESET and raises a configuration-change interrupt; before
// that it is ignored. Nothing a driver writes can crash the VMM.
type Transport struct {
	mem    *guestmem.Memory
	dev    Device
	irq    *Interrupt
	notify []int // per-queue kick eventfds

	mu          sync.Mutex
	status      uint32 // guarded by mu
	devFeatSel  uint32 // guarded by mu
	drvFeatSel  uint32 // guarded by mu
	drvFeatures uint64 // guarded by mu
	queueSel    uint32 // guarded by mu
	queues      []*Queue
	configGen   uint32 // guarded by mu
	live        bool   // guarded by mu: Activate succeeded, Reset not yet called
	resetting   bool   // guarded by mu: Reset called, done not yet

	// onNeedsReset is told about each violation the transport itself
	// finds (register writes, ring checks at DRIVER_OK), for counting and
	// logging; those the device reports through Activation.NeedsReset it
	// has counted already. May be nil.
	onNeedsReset func(error)
}

// NewTransport wraps dev. notify holds one eventfd per queue (see
// Activation.Notify); irq is the device's interrupt.
func NewTransport(mem *guestmem.Memory, dev Device, irq *Interrupt, notify []int, onNeedsReset func(error)) (*Transport, error) {
	sizes := dev.QueueMaxSizes()
	if len(notify) != len(sizes) {
		return nil, fmt.Errorf("virtio: %d notify eventfds for %d queues", len(notify), len(sizes))
	}
	t := &Transport{mem: mem, dev: dev, irq: irq, notify: notify, onNeedsReset: onNeedsReset}
	for i, max := range sizes {
		if max == 0 || max > MaxQueueSize || max&(max-1) != 0 {
			return nil, fmt.Errorf("virtio: queue %d maximum size %d is not a power of two up to %d", i, max, MaxQueueSize)
		}
		t.queues = append(t.queues, &Queue{Index: i, MaxSize: max})
	}
	return t, nil
}

// Read implements devices.Device.
func (t *Transport) Read(offset uint64, data []byte) {
	clear(data)
	if offset >= regConfig {
		t.readConfig(offset-regConfig, data)
		return
	}
	if len(data) != 4 || offset%4 != 0 {
		return // registers are 32-bit (4.2.2.2); anything else reads as 0
	}
	t.mu.Lock()
	v := t.readReg(offset)
	t.mu.Unlock()
	binary.LittleEndian.PutUint32(data, v)
}

// Preconditions: t.mu held.
func (t *Transport) readReg(offset uint64) uint32 {
	switch offset {
	case regMagic:
		return mmioMagic
	case regVersion:
		return mmioVersion
	case regDeviceID:
		return t.dev.Type()
	case regVendorID:
		return VendorID
	case regDeviceFeatures:
		if t.devFeatSel > 1 {
			return 0
		}
		return uint32(t.dev.Features() >> (32 * t.devFeatSel))
	case regQueueNumMax:
		if q := t.selected(); q != nil {
			return uint32(q.MaxSize)
		}
	case regQueueReady:
		if q := t.selected(); q != nil && q.Ready {
			return 1
		}
	case regInterruptStatus:
		return t.irq.Status()
	case regStatus:
		return t.status
	case regConfigGeneration:
		return t.configGen
	}
	return 0
}

// Write implements devices.Device.
func (t *Transport) Write(offset uint64, data []byte) {
	if offset >= regConfig {
		t.mu.Lock()
		defer t.mu.Unlock()
		if off, n, ok := t.configRange(offset-regConfig, len(data)); ok {
			t.dev.WriteConfig(off, data[:n])
		}
		return
	}
	if len(data) != 4 || offset%4 != 0 {
		return
	}
	v := binary.LittleEndian.Uint32(data)
	if offset == regQueueNotify {
		t.kick(v)
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.writeReg(offset, v)
}

// Preconditions: t.mu held.
func (t *Transport) writeReg(offset uint64, v uint32) {
	switch offset {
	case regDeviceFeaturesSel:
		t.devFeatSel = v
	case regDriverFeaturesSel:
		t.drvFeatSel = v
	case regDriverFeatures:
		if t.status&StatusDriver == 0 || t.status&StatusFeaturesOK != 0 || t.resetting {
			t.violation(ErrFeaturesWrite)
			return
		}
		switch t.drvFeatSel {
		case 0:
			t.drvFeatures = t.drvFeatures&^0xffffffff | uint64(v)
		case 1:
			t.drvFeatures = t.drvFeatures&0xffffffff | uint64(v)<<32
		}
	case regQueueSel:
		t.queueSel = v
	case regQueueNum, regQueueReady, regQueueDescLow, regQueueDescHigh,
		regQueueDriverLow, regQueueDriverHigh, regQueueDeviceLow, regQueueDeviceHigh:
		t.writeQueueReg(offset, v)
	case regInterruptACK:
		t.irq.Ack(v)
	case regStatus:
		t.writeStatus(v)
	}
}

// writeQueueReg accepts queue configuration only between FEATURES_OK and
// DRIVER_OK (4.2.3.2), and a queue's layout only while it is not ready: a
// transport that let a driver move a live queue would have the device
// read and write wherever the driver pointed it mid-flight.
//
// Preconditions: t.mu held.
func (t *Transport) writeQueueReg(offset uint64, v uint32) {
	q := t.selected()
	switch {
	case t.resetting:
		return
	case t.status&StatusDriverOK != 0:
		// Linux's queue teardown writes QueueReady=0 only after a reset;
		// anything while live is a violation.
		t.violation(fmt.Errorf("%w: register %#x after DRIVER_OK", ErrLiveQueueWrite, offset))
		return
	case t.status&StatusFeaturesOK == 0 || q == nil:
		return // not configuring queues yet, or no such queue: ignored
	case offset == regQueueReady:
		q.Ready = v&1 != 0
		return
	case q.Ready:
		t.violation(fmt.Errorf("%w: queue %d register %#x while ready", ErrLiveQueueWrite, q.Index, offset))
		return
	}
	switch offset {
	case regQueueNum:
		q.Size = uint16(min(v, 0xffff))
		if v > 0xffff {
			q.Size = 0 // never a valid size: activation refuses it
		}
	case regQueueDescLow:
		q.DescAddr = q.DescAddr&^0xffffffff | uint64(v)
	case regQueueDescHigh:
		q.DescAddr = q.DescAddr&0xffffffff | uint64(v)<<32
	case regQueueDriverLow:
		q.DriverAddr = q.DriverAddr&^0xffffffff | uint64(v)
	case regQueueDriverHigh:
		q.DriverAddr = q.DriverAddr&0xffffffff | uint64(v)<<32
	case regQueueDeviceLow:
		q.DeviceAddr = q.DeviceAddr&^0xffffffff | uint64(v)
	case regQueueDeviceHigh:
		q.DeviceAddr = q.DeviceAddr&0xffffffff | uint64(v)<<32
	}
}

// writeStatus runs the status state machine (2.1, 3.1).
//
// Preconditions: t.mu held.
func (t *Transport) writeStatus(v uint32) {
	if v == 0 {
		t.reset()
		return
	}
	if t.resetting {
		return // the driver must wait for status 0 first
	}
	old := t.status
	if v&old != old {
		t.violation(fmt.Errorf("%w: status %#x over %#x", ErrStatusCleared, v, old))
		return
	}
	added := v &^ old
	if added&StatusFeaturesOK != 0 {
		if !t.featuresAcceptable() {
			v &^= StatusFeaturesOK // the driver reads it back and gives up (3.1.1)
		}
	}
	if added&StatusDriverOK != 0 {
		if v&StatusFeaturesOK == 0 {
			t.violation(ErrDriverOKEarly)
			return
		}
		t.status = v
		t.activate()
		return
	}
	t.status = v
}

// featuresAcceptable: a subset of what was offered, with VERSION_1 (this
// is a modern-only transport).
//
// Preconditions: t.mu held.
func (t *Transport) featuresAcceptable() bool {
	return t.drvFeatures&^t.dev.Features() == 0 && t.drvFeatures&FeatureVersion1 != 0
}

// activate binds every ready queue and starts the device.
//
// Preconditions: t.mu held.
func (t *Transport) activate() {
	for _, q := range t.queues {
		if !q.Ready {
			continue
		}
		if err := q.Activate(t.mem, t.drvFeatures); err != nil {
			t.violation(err)
			return
		}
	}
	err := t.dev.Activate(Activation{Mem: t.mem, Features: t.drvFeatures, Queues: t.queues, Notify: t.notify, IRQ: t.irq,
		NeedsReset: t.needsReset})
	if err != nil {
		t.violation(err)
		return
	}
	t.live = true
}

// reset starts a device reset (4.2.3.1: the driver writes 0 and then waits
// until Status reads 0). The register file is cleared at once; Status
// keeps its old value until the device says no worker can touch the old
// rings any more.
//
// Preconditions: t.mu held.
func (t *Transport) reset() {
	if t.resetting {
		return
	}
	t.drvFeatures, t.drvFeatSel, t.devFeatSel, t.queueSel = 0, 0, 0, 0
	if !t.live {
		t.finishReset()
		return
	}
	t.live, t.resetting = false, true
	// done may come synchronously, while this vCPU holds t.mu, or later
	// from a worker: finish on a goroutine of its own either way.
	t.dev.Reset(func() {
		go func() {
			t.mu.Lock()
			defer t.mu.Unlock()
			t.finishReset()
		}()
	})
}

// Preconditions: t.mu held.
func (t *Transport) finishReset() {
	for _, q := range t.queues {
		q.Reset()
	}
	t.irq.clear()
	t.status, t.resetting = 0, false
}

// needsReset is how a running device reports a driver's protocol
// violation. The device counts and logs it itself: onNeedsReset is not told.
func (t *Transport) needsReset(error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.markNeedsReset()
}

// violation answers a protocol violation the transport found: it is
// reported to onNeedsReset, then markNeedsReset.
//
// Preconditions: t.mu held.
func (t *Transport) violation(reason error) {
	if t.onNeedsReset != nil {
		t.onNeedsReset(reason)
	}
	t.markNeedsReset()
}

// markNeedsReset: once the driver has started (status not 0) the device
// sets DEVICE_NEEDS_RESET, and if it was live (DRIVER_OK) also raises a
// configuration-change interrupt (2.1.2) so the driver notices. Before
// that the offending write is simply ignored.
//
// Preconditions: t.mu held.
func (t *Transport) markNeedsReset() {
	if t.status == 0 || t.status&StatusDeviceNeedsReset != 0 {
		return
	}
	t.status |= StatusDeviceNeedsReset
	if t.status&StatusDriverOK != 0 {
		_ = t.irq.Trigger(InterruptConfigChanged)
	}
}

// kick forwards a QueueNotify that reached the VMM (no ioeventfd matched:
// a value that is not a queue index, or a host without ioeventfd) to the
// queue's eventfd, as KVM would have.
func (t *Transport) kick(v uint32) {
	if int(v) >= len(t.notify) || t.notify[v] < 0 {
		return
	}
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], 1)
	_, _ = unix.Write(t.notify[v], b[:])
}

// Preconditions: t.mu held.
func (t *Transport) selected() *Queue {
	if t.queueSel >= uint32(len(t.queues)) {
		return nil
	}
	return t.queues[t.queueSel]
}

// readConfig reads device configuration space at any width and offset;
// bytes past its end read as 0.
func (t *Transport) readConfig(offset uint64, data []byte) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if off, n, ok := t.configRange(offset, len(data)); ok {
		t.dev.ReadConfig(off, data[:n])
	}
}

// configRange clips an access to the configuration space.
func (t *Transport) configRange(offset uint64, n int) (int, int, bool) {
	size := uint64(t.dev.ConfigSize())
	if offset >= size || n == 0 {
		return 0, 0, false
	}
	return int(offset), int(min(uint64(n), size-offset)), true
}

// ConfigChanged bumps ConfigGeneration and interrupts the driver, for a
// device whose configuration changed (a resized disk).
func (t *Transport) ConfigChanged() {
	t.mu.Lock()
	t.configGen++
	live := t.status&StatusDriverOK != 0
	t.mu.Unlock()
	if live {
		_ = t.irq.Trigger(InterruptConfigChanged)
	}
}

// Status returns the device status register, for tests and diagnostics.
func (t *Transport) Status() uint32 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.status
}
