package virtio

import (
	"encoding/binary"
	"errors"
	"testing"

	vt "vmm/devices/virtio/virtiotest"
	"vmm/guestmem"
)

// activeQueue sets up a live queue of size 8 and returns both sides.
func activeQueue(t *testing.T, features uint64) (*guestmem.Memory, *vt.Driver, *vt.Queue, *Queue) {
	t.Helper()
	mem, dev, _, d, _ := newRig(t)
	got, ok := d.Negotiate(features)
	if !ok || got != features {
		t.Fatalf("negotiated %#x, ok %v", got, ok)
	}
	dq := d.SetupQueue(0, 8, features&FeatureEventIdx != 0)
	if st := d.Start(); st&StatusDeviceNeedsReset != 0 {
		t.Fatalf("status %#x", st)
	}
	return mem, d, dq, dev.activations[0].Queues[0]
}

func TestQueueRoundTrip(t *testing.T) {
	_, d, dq, q := activeQueue(t, FeatureVersion1)
	buf := d.Alloc(64, 8)
	head, _ := dq.Add([]vt.Buf{{Addr: buf, Len: 16}, {Addr: buf + 16, Len: 48, Write: true}})
	got, ok, err := q.Pop()
	if err != nil || !ok || got != head {
		t.Fatalf("Pop = %d, %v, %v; want %d", got, ok, err, head)
	}
	segs, err := q.ReadChain(got, nil)
	if err != nil || len(segs) != 2 || segs[0].Write || !segs[1].Write || segs[1].Len != 48 || segs[1].Addr != buf+16 || len(segs[1].Mem) != 48 {
		t.Fatalf("chain %+v, %v", segs, err)
	}
	if _, ok, _ := q.Pop(); ok {
		t.Fatal("popped twice")
	}
	if q.InFlight() != 1 {
		t.Fatalf("in flight %d", q.InFlight())
	}
	q.AddUsed(got, 48)
	if _, _, ok := dq.PopUsed(); ok {
		t.Fatal("used entry visible before PublishUsed")
	}
	q.PublishUsed()
	id, n, ok := dq.PopUsed()
	if !ok || id != uint32(head) || n != 48 || q.InFlight() != 0 {
		t.Fatalf("used %d %d %v", id, n, ok)
	}
	if !q.NeedsInterrupt() {
		t.Fatal("no EVENT_IDX, no NO_INTERRUPT flag: an interrupt is due")
	}
}

func TestQueuePopViolations(t *testing.T) {
	t.Run("avail index jump", func(t *testing.T) {
		_, _, dq, q := activeQueue(t, FeatureVersion1)
		dq.SetAvailIdx(9) // size 8
		if _, _, err := q.Pop(); !errors.Is(err, ErrAvailIndex) {
			t.Fatalf("Pop = %v", err)
		}
	})
	t.Run("head out of range", func(t *testing.T) {
		_, _, dq, q := activeQueue(t, FeatureVersion1)
		dq.Publish(8)
		if _, _, err := q.Pop(); !errors.Is(err, ErrHeadIndex) {
			t.Fatalf("Pop = %v", err)
		}
	})
	t.Run("head already in flight", func(t *testing.T) {
		// Cloud Hypervisor's CVE-2026-45782: the same head twice led to a
		// use-after-free; here the second is refused.
		_, d, dq, q := activeQueue(t, FeatureVersion1)
		buf := d.Alloc(16, 8)
		head, _ := dq.Add([]vt.Buf{{Addr: buf, Len: 16}})
		dq.Publish(head)
		if _, ok, err := q.Pop(); !ok || err != nil {
			t.Fatalf("first Pop: %v %v", ok, err)
		}
		if _, _, err := q.Pop(); !errors.Is(err, ErrHeadInFlight) {
			t.Fatalf("second Pop = %v", err)
		}
	})
}

func TestChainViolations(t *testing.T) {
	type build func(d *vt.Driver, dq *vt.Queue) uint16
	desc := func(dq *vt.Queue, i uint16, dd vt.Desc) { dq.WriteDesc(i, dd) }
	cases := []struct {
		name     string
		features uint64
		build    build
		want     error
	}{
		{"next out of range", 0, func(d *vt.Driver, dq *vt.Queue) uint16 {
			desc(dq, 0, vt.Desc{Addr: 0x8000, Len: 8, Flags: vt.DescNext, Next: 8})
			return 0
		}, ErrNextIndex},
		{"loop", 0, func(d *vt.Driver, dq *vt.Queue) uint16 {
			desc(dq, 0, vt.Desc{Addr: 0x8000, Len: 8, Flags: vt.DescNext, Next: 1})
			desc(dq, 1, vt.Desc{Addr: 0x8000, Len: 8, Flags: vt.DescNext, Next: 0})
			return 0
		}, ErrChainTooLong},
		{"indirect not negotiated", 0, func(d *vt.Driver, dq *vt.Queue) uint16 {
			desc(dq, 0, vt.Desc{Addr: d.Alloc(32, 16), Len: 32, Flags: vt.DescIndirect})
			return 0
		}, ErrIndirectNotOK},
		{"indirect with next", FeatureIndirectDesc, func(d *vt.Driver, dq *vt.Queue) uint16 {
			desc(dq, 0, vt.Desc{Addr: d.Alloc(32, 16), Len: 32, Flags: vt.DescIndirect | vt.DescNext, Next: 1})
			return 0
		}, ErrIndirectWithNext},
		{"indirect length not a multiple of 16", FeatureIndirectDesc, func(d *vt.Driver, dq *vt.Queue) uint16 {
			desc(dq, 0, vt.Desc{Addr: d.Alloc(32, 16), Len: 24, Flags: vt.DescIndirect})
			return 0
		}, ErrIndirectLength},
		{"empty indirect table", FeatureIndirectDesc, func(d *vt.Driver, dq *vt.Queue) uint16 {
			desc(dq, 0, vt.Desc{Addr: d.Alloc(32, 16), Len: 0, Flags: vt.DescIndirect})
			return 0
		}, ErrIndirectLength},
		{"indirect table larger than the queue", FeatureIndirectDesc, func(d *vt.Driver, dq *vt.Queue) uint16 {
			desc(dq, 0, vt.Desc{Addr: d.Alloc(16*9, 16), Len: 16 * 9, Flags: vt.DescIndirect})
			return 0
		}, ErrIndirectLength},
		{"nested indirect", FeatureIndirectDesc, func(d *vt.Driver, dq *vt.Queue) uint16 {
			tbl := d.Alloc(16, 16)
			b, _ := d.Mem.Slice(tbl, 16)
			binary.LittleEndian.PutUint64(b[0:], d.Alloc(16, 16))
			binary.LittleEndian.PutUint32(b[8:], 16)
			binary.LittleEndian.PutUint16(b[12:], vt.DescIndirect)
			desc(dq, 0, vt.Desc{Addr: tbl, Len: 16, Flags: vt.DescIndirect})
			return 0
		}, ErrIndirectNested},
		{"indirect table outside RAM", FeatureIndirectDesc, func(d *vt.Driver, dq *vt.Queue) uint16 {
			desc(dq, 0, vt.Desc{Addr: 1<<20 - 16, Len: 32, Flags: vt.DescIndirect})
			return 0
		}, ErrDescriptorMemory},
		{"buffer outside RAM", 0, func(d *vt.Driver, dq *vt.Queue) uint16 {
			desc(dq, 0, vt.Desc{Addr: 1 << 20, Len: 1})
			return 0
		}, ErrDescriptorMemory},
		{"buffer wrapping the address space", 0, func(d *vt.Driver, dq *vt.Queue) uint16 {
			desc(dq, 0, vt.Desc{Addr: ^uint64(0) - 4, Len: 16})
			return 0
		}, ErrDescriptorMemory},
		{"next out of range in an indirect table", FeatureIndirectDesc, func(d *vt.Driver, dq *vt.Queue) uint16 {
			tbl := d.Alloc(32, 16)
			b, _ := d.Mem.Slice(tbl, 32)
			binary.LittleEndian.PutUint64(b[0:], 0x8000)
			binary.LittleEndian.PutUint32(b[8:], 8)
			binary.LittleEndian.PutUint16(b[12:], vt.DescNext)
			binary.LittleEndian.PutUint16(b[14:], 2) // the table has 2 entries
			desc(dq, 0, vt.Desc{Addr: tbl, Len: 32, Flags: vt.DescIndirect})
			return 0
		}, ErrNextIndex},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, d, dq, q := activeQueue(t, FeatureVersion1|c.features)
			head := c.build(d, dq)
			if _, err := q.ReadChain(head, nil); !errors.Is(err, c.want) {
				t.Fatalf("ReadChain = %v, want %v", err, c.want)
			}
		})
	}
}

func TestChainIndirect(t *testing.T) {
	_, d, dq, q := activeQueue(t, FeatureVersion1|FeatureIndirectDesc)
	head, _ := dq.AddIndirect([]vt.Buf{{Addr: 0x9000, Len: 16}, {Addr: 0x9100, Len: 512, Write: true}, {Addr: 0x9400, Len: 1, Write: true}})
	segs, err := q.ReadChain(head, make([]Segment, 0, 8))
	if err != nil || len(segs) != 3 || segs[2].Addr != 0x9400 || !segs[1].Write {
		t.Fatalf("%+v %v", segs, err)
	}
	_ = d
}

// TestEventIdx: with EVENT_IDX the device interrupts only when used.idx
// passes the driver's used_event, and asks for notifications by writing
// avail_event.
func TestEventIdx(t *testing.T) {
	_, d, dq, q := activeQueue(t, FeatureVersion1|FeatureEventIdx)
	buf := d.Alloc(16, 8)
	complete := func() {
		head, _ := dq.Add([]vt.Buf{{Addr: buf, Len: 16, Write: true}})
		if h, ok, err := q.Pop(); !ok || err != nil || h != head {
			t.Fatalf("pop %v %v", ok, err)
		}
		q.AddUsed(head, 16)
		q.PublishUsed()
		dq.PopUsed()
	}
	dq.SetUsedEvent(0)
	complete() // used idx 0 -> 1 crosses used_event 0
	if !q.NeedsInterrupt() {
		t.Fatal("first completion past used_event 0 must interrupt")
	}
	dq.SetUsedEvent(5)
	complete() // 1 -> 2: not past 5
	if q.NeedsInterrupt() {
		t.Fatal("interrupted before used_event")
	}
	for i := 0; i < 4; i++ {
		complete() // up to 6
	}
	if !q.NeedsInterrupt() {
		t.Fatal("used idx went past used_event 5 without an interrupt")
	}

	old := dq.AvailIdx
	if more := q.EnableNotify(); more {
		t.Fatal("nothing new, but EnableNotify says more")
	}
	dq.Add([]vt.Buf{{Addr: buf, Len: 16}})
	if !dq.NeedsKick(old) {
		t.Fatal("after EnableNotify the device must ask for a kick")
	}
	if !q.EnableNotify() {
		t.Fatal("an entry added before EnableNotify must be reported")
	}
}

func FuzzReadChain(f *testing.F) {
	f.Add(make([]byte, 16*8), uint16(0), uint64(FeatureIndirectDesc))
	seed := make([]byte, 16*8)
	binary.LittleEndian.PutUint64(seed[0:], 0x9000)
	binary.LittleEndian.PutUint32(seed[8:], 64)
	binary.LittleEndian.PutUint16(seed[12:], descIndirect)
	f.Add(seed, uint16(0), uint64(FeatureIndirectDesc))
	f.Fuzz(func(t *testing.T, table []byte, head uint16, features uint64) {
		mem, err := guestmem.New([]guestmem.Range{{GPA: 0, Size: 64 << 10}, {GPA: 1 << 20, Size: 64 << 10}})
		if err != nil {
			t.Fatal(err)
		}
		defer mem.Close()
		// The descriptor table at 0x1000, an arbitrary "indirect" area at
		// 0x9000 filled from the same bytes.
		dt, _ := mem.Slice(0x1000, 16*8)
		copy(dt, table)
		it, _ := mem.Slice(0x9000, 0x1000)
		copy(it, table)
		q := &Queue{MaxSize: 8, Size: 8, DescAddr: 0x1000, DriverAddr: 0x2000, DeviceAddr: 0x3000}
		if err := q.Activate(mem, features); err != nil {
			t.Fatal(err)
		}
		segs, err := q.ReadChain(head, nil)
		if len(segs) > int(q.Size) {
			t.Fatalf("%d segments from a queue of 8", len(segs))
		}
		for _, s := range segs {
			if b, e := mem.Slice(s.Addr, uint64(s.Len)); e != nil || len(b) != len(s.Mem) {
				t.Fatalf("segment %+v outside RAM (err %v)", s, err)
			}
		}
	})
}

// TestChainIndirectTableOfQueueSize: an indirect table of exactly the
// queue's size is legal (the descriptor pointing at it does not count
// against the table), and a loop inside a table still ends.
func TestChainIndirectTableOfQueueSize(t *testing.T) {
	_, _, dq, q := activeQueue(t, FeatureVersion1|FeatureIndirectDesc)
	bufs := make([]vt.Buf, 8)
	for i := range bufs {
		bufs[i] = vt.Buf{Addr: 0x9000 + uint64(i)*16, Len: 16}
	}
	head, _ := dq.AddIndirect(bufs)
	if segs, err := q.ReadChain(head, nil); err != nil || len(segs) != 8 {
		t.Fatalf("a full-size indirect table: %d segments, %v", len(segs), err)
	}
}
