package virtio

import (
	"testing"
	"time"

	vt "vmm/devices/virtio/virtiotest"
)

func TestTransportIdentityAndHandshake(t *testing.T) {
	_, dev, tr, d, rs := newRig(t)
	if d.Reg(vt.RegMagic) != 0x74726976 || d.Reg(vt.RegVersion) != 2 || d.Reg(vt.RegDeviceID) != 42 {
		t.Fatalf("magic %#x version %d id %d", d.Reg(vt.RegMagic), d.Reg(vt.RegVersion), d.Reg(vt.RegDeviceID))
	}
	if f := d.Features(); f != dev.Features() {
		t.Fatalf("features %#x, want %#x", f, dev.Features())
	}
	got, ok := d.Negotiate(FeatureVersion1 | FeatureEventIdx)
	if !ok || got != FeatureVersion1|FeatureEventIdx {
		t.Fatalf("negotiated %#x ok=%v", got, ok)
	}
	d.SetReg(vt.RegQueueSel, 0)
	if d.Reg(vt.RegQueueNumMax) != 16 {
		t.Fatalf("QueueNumMax %d", d.Reg(vt.RegQueueNumMax))
	}
	d.SetReg(vt.RegQueueSel, 1)
	if d.Reg(vt.RegQueueNumMax) != 0 {
		t.Fatal("a queue that does not exist must read QueueNumMax 0")
	}
	q := d.SetupQueue(0, 8, true)
	st := d.Start()
	if st&StatusDriverOK == 0 || st&StatusDeviceNeedsReset != 0 || len(dev.activations) != 1 {
		t.Fatalf("status %#x after DRIVER_OK, %d activations", st, len(dev.activations))
	}
	a := dev.activations[0]
	if a.Features != FeatureVersion1|FeatureEventIdx || !a.Queues[0].Ready || a.Queues[0].Size != 8 || a.Queues[0].DescAddr != q.Desc {
		t.Fatalf("activation %+v queue %+v", a, a.Queues[0])
	}
	if rs.count() != 0 {
		t.Fatalf("violations on a clean handshake: %v", rs.list)
	}
	// Config space at any width, past its end reads 0.
	dev.config = [8]byte{1, 2, 3, 4, 5, 6, 7, 8}
	b := make([]byte, 2)
	tr.Read(0x100+3, b)
	if b[0] != 4 || b[1] != 5 {
		t.Fatalf("config read % x", b)
	}
	b = make([]byte, 4)
	tr.Read(0x100+6, b)
	if b[0] != 7 || b[1] != 8 || b[2] != 0 || b[3] != 0 {
		t.Fatalf("config read past the end % x", b)
	}
}

func TestFeaturesOKRefusedForUnofferedOrLegacy(t *testing.T) {
	for name, want := range map[string]uint64{"unoffered bit": FeatureVersion1 | 1<<5, "no VERSION_1": FeatureEventIdx} {
		t.Run(name, func(t *testing.T) {
			_, _, _, d, _ := newRig(t)
			d.SetReg(vt.RegStatus, vt.StatusAcknowledge|vt.StatusDriver)
			d.SetReg(vt.RegDriverFeatSel, 0)
			d.SetReg(vt.RegDriverFeatures, uint32(want))
			d.SetReg(vt.RegDriverFeatSel, 1)
			d.SetReg(vt.RegDriverFeatures, uint32(want>>32))
			d.SetReg(vt.RegStatus, vt.StatusAcknowledge|vt.StatusDriver|vt.StatusFeaturesOK)
			if d.Reg(vt.RegStatus)&vt.StatusFeaturesOK != 0 {
				t.Fatalf("FEATURES_OK kept for features %#x", want)
			}
		})
	}
}

// TestQueueRegistersRefusedAfterActivation: once the device is live, a
// driver moving a queue (Firecracker's CVE-2026-5747 was a transport that
// let it) gets DEVICE_NEEDS_RESET, and the device keeps the layout it was
// activated with.
func TestQueueRegistersRefusedAfterActivation(t *testing.T) {
	_, dev, _, d, rs := newRig(t)
	d.Negotiate(FeatureVersion1)
	q := d.SetupQueue(0, 8, false)
	d.Start()
	d.SetReg(vt.RegQueueSel, 0)
	d.SetReg(vt.RegQueueDescLow, 0x5000)
	d.SetReg(vt.RegQueueNum, 4)
	if st := d.Reg(vt.RegStatus); st&StatusDeviceNeedsReset == 0 {
		t.Fatalf("status %#x: no NEEDS_RESET after moving a live queue", st)
	}
	if dq := dev.activations[0].Queues[0]; dq.DescAddr != q.Desc || dq.Size != 8 {
		t.Fatalf("live queue changed: desc %#x size %d", dq.DescAddr, dq.Size)
	}
	if d.Reg(vt.RegInterruptStat)&InterruptConfigChanged == 0 {
		t.Fatal("NEEDS_RESET on a live device must raise a configuration-change interrupt")
	}
	if !rs.has(ErrLiveQueueWrite) {
		t.Fatalf("violations %v, want ErrLiveQueueWrite", rs.list)
	}
}

// TestDeviceReportedViolation: a violation the device reports through
// Activation.NeedsReset sets NEEDS_RESET and interrupts like the
// transport's own, but is not echoed to onNeedsReset: the device has
// counted and logged it already.
func TestDeviceReportedViolation(t *testing.T) {
	_, dev, _, d, rs := newRig(t)
	d.Negotiate(FeatureVersion1)
	d.SetupQueue(0, 8, false)
	d.Start()
	dev.activations[0].NeedsReset(ErrHeadInFlight)
	if st := d.Reg(vt.RegStatus); st&StatusDeviceNeedsReset == 0 {
		t.Fatalf("status %#x: no NEEDS_RESET", st)
	}
	if d.Reg(vt.RegInterruptStat)&InterruptConfigChanged == 0 {
		t.Fatal("no configuration-change interrupt")
	}
	if rs.count() != 0 {
		t.Fatalf("device-reported violation echoed to onNeedsReset: %v", rs.list)
	}
}

func TestQueueRegistersWhileReadyAndBeforeFeatures(t *testing.T) {
	_, dev, _, d, _ := newRig(t)
	// Before FEATURES_OK queue writes are ignored.
	d.SetReg(vt.RegStatus, vt.StatusAcknowledge|vt.StatusDriver)
	d.SetReg(vt.RegQueueSel, 0)
	d.SetReg(vt.RegQueueNum, 8)
	d.SetReg(vt.RegQueueReady, 1)
	if d.Reg(vt.RegQueueReady) != 0 {
		t.Fatal("QueueReady accepted before FEATURES_OK")
	}
	d.Negotiate(FeatureVersion1)
	d.SetupQueue(0, 8, false)
	d.SetReg(vt.RegQueueDescLow, 0x5000) // while ready: refused
	if st := d.Reg(vt.RegStatus); st&StatusDeviceNeedsReset == 0 {
		t.Fatalf("status %#x: moving a ready queue must need a reset", st)
	}
	_ = dev
}

func TestStatusRules(t *testing.T) {
	_, dev, _, d, rs := newRig(t)
	d.SetReg(vt.RegStatus, vt.StatusAcknowledge)
	d.SetReg(vt.RegStatus, vt.StatusAcknowledge|vt.StatusDriver|vt.StatusDriverOK) // DRIVER_OK without FEATURES_OK
	if st := d.Reg(vt.RegStatus); st&StatusDriverOK != 0 || st&StatusDeviceNeedsReset == 0 || len(dev.activations) != 0 {
		t.Fatalf("status %#x, %d activations", st, len(dev.activations))
	}
	d.SetReg(vt.RegStatus, 0)
	if d.Reg(vt.RegStatus) != 0 {
		t.Fatal("reset did not clear status")
	}
	d.Negotiate(FeatureVersion1)
	d.SetReg(vt.RegStatus, vt.StatusAcknowledge) // clears bits without a reset
	if st := d.Reg(vt.RegStatus); st&StatusDeviceNeedsReset == 0 {
		t.Fatalf("status %#x after clearing bits", st)
	}
	if rs.count() != 2 || !rs.has(ErrDriverOKEarly) || !rs.has(ErrStatusCleared) {
		t.Fatalf("violations %v, want ErrDriverOKEarly and ErrStatusCleared", rs.list)
	}
}

// TestActivationRefusesBadRings: rings outside RAM, misaligned, a size
// that is not a power of two, a used ring over the descriptor table.
func TestActivationRefusesBadRings(t *testing.T) {
	cases := map[string]func(d *vt.Driver, q *vt.Queue){
		"size not a power of two":    func(d *vt.Driver, q *vt.Queue) { d.SetReg(vt.RegQueueNum, 6) },
		"size above max":             func(d *vt.Driver, q *vt.Queue) { d.SetReg(vt.RegQueueNum, 32) },
		"descriptors outside RAM":    func(d *vt.Driver, q *vt.Queue) { d.SetReg(vt.RegQueueDescHigh, 1) },
		"misaligned used ring":       func(d *vt.Driver, q *vt.Queue) { d.SetReg(vt.RegQueueDevLow, 0x20002) },
		"used ring over descriptors": func(d *vt.Driver, q *vt.Queue) { d.SetReg(vt.RegQueueDevLow, uint32(q.Desc+16)) },
		"used ring over avail ring":  func(d *vt.Driver, q *vt.Queue) { d.SetReg(vt.RegQueueDevLow, uint32(q.Avail&^3)) },
	}
	for name, breakIt := range cases {
		t.Run(name, func(t *testing.T) {
			_, dev, _, d, rs := newRig(t)
			d.Negotiate(FeatureVersion1)
			q := d.SetupQueue(0, 8, false)
			d.SetReg(vt.RegQueueReady, 0)
			breakIt(d, q)
			d.SetReg(vt.RegQueueReady, 1)
			st := d.Start()
			if st&StatusDeviceNeedsReset == 0 || len(dev.activations) != 0 {
				t.Fatalf("status %#x, %d activations", st, len(dev.activations))
			}
			if !rs.has(ErrQueueLayout) && !rs.has(ErrQueueSize) {
				t.Fatalf("reasons %v", rs.list)
			}
		})
	}
}

// TestResetWaitsForTheDevice: status reads back 0 only once the device
// has finished stopping, and the registers are clean afterwards.
func TestResetWaitsForTheDevice(t *testing.T) {
	_, dev, tr, d, _ := newRig(t)
	dev.release = make(chan struct{})
	d.Negotiate(FeatureVersion1)
	d.SetupQueue(0, 8, false)
	d.Start()
	tr.irq.Trigger(InterruptUsedBuffer)
	d.SetReg(vt.RegStatus, 0)
	if d.Reg(vt.RegStatus) == 0 {
		t.Fatal("status read 0 while the device was still stopping")
	}
	d.SetReg(vt.RegStatus, vt.StatusAcknowledge) // ignored while resetting
	close(dev.release)
	deadline := time.Now().Add(10 * time.Second)
	for d.Reg(vt.RegStatus) != 0 {
		if time.Now().After(deadline) {
			t.Fatal("reset never completed")
		}
		time.Sleep(100 * time.Microsecond)
	}
	d.SetReg(vt.RegQueueSel, 0)
	if d.Reg(vt.RegQueueReady) != 0 || d.Reg(vt.RegInterruptStat) != 0 || dev.resets != 1 {
		t.Fatalf("after reset: ready %d isr %#x resets %d", d.Reg(vt.RegQueueReady), d.Reg(vt.RegInterruptStat), dev.resets)
	}
	// And the device comes up again.
	d.Negotiate(FeatureVersion1)
	d.SetupQueue(0, 8, false)
	if st := d.Start(); st&StatusDriverOK == 0 || len(dev.activations) != 2 {
		t.Fatalf("second activation: status %#x, %d activations", st, len(dev.activations))
	}
}

// TestTransportSurvivesHostileAccesses: any offset, any size.
func TestTransportSurvivesHostileAccesses(t *testing.T) {
	_, _, tr, _, _ := newRig(t)
	for _, size := range []int{0, 1, 2, 3, 4, 8, 16} {
		for off := uint64(0); off < 0x1100; off++ {
			b := make([]byte, size)
			for i := range b {
				b[i] = 0xff
			}
			tr.Write(off, b)
			tr.Read(off, b)
		}
		tr.Write(1<<63, make([]byte, size))
		tr.Read(^uint64(0), make([]byte, size))
	}
}
