// Package virtiotest is a virtio driver in Go for tests: it lays out split
// virtqueues in guest memory and programs a virtio-mmio register window
// exactly as a guest driver would, so queue, transport and device tests
// run without a VM. It can also break every rule on purpose.
package virtiotest

import (
	"encoding/binary"
	"fmt"
	"time"

	"vmm/guestmem"
)

// Window is a register window: virtio.Transport (or any devices.Device).
type Window interface {
	Read(offset uint64, data []byte)
	Write(offset uint64, data []byte)
}

// virtio-mmio register offsets, restated here so this package stays a
// driver's-eye view (and catches a transport that moved one).
const (
	RegMagic          = 0x000
	RegVersion        = 0x004
	RegDeviceID       = 0x008
	RegDeviceFeatures = 0x010
	RegDeviceFeatSel  = 0x014
	RegDriverFeatures = 0x020
	RegDriverFeatSel  = 0x024
	RegQueueSel       = 0x030
	RegQueueNumMax    = 0x034
	RegQueueNum       = 0x038
	RegQueueReady     = 0x044
	RegQueueNotify    = 0x050
	RegInterruptStat  = 0x060
	RegInterruptACK   = 0x064
	RegStatus         = 0x070
	RegQueueDescLow   = 0x080
	RegQueueDescHigh  = 0x084
	RegQueueDrvLow    = 0x090
	RegQueueDrvHigh   = 0x094
	RegQueueDevLow    = 0x0a0
	RegQueueDevHigh   = 0x0a4
	RegConfigGen      = 0x0fc
	RegConfig         = 0x100

	StatusAcknowledge = 1
	StatusDriver      = 2
	StatusDriverOK    = 4
	StatusFeaturesOK  = 8
	StatusNeedsReset  = 64

	DescNext     = 1
	DescWrite    = 2
	DescIndirect = 4
)

// Driver drives one device.
type Driver struct {
	W      Window
	reg    [4]byte // register access buffer: a local would escape through the interface call
	Mem    *guestmem.Memory
	next   uint64 // bump allocator
	limit  uint64
	Queues []*Queue
}

// New returns a driver that allocates rings and buffers from guest RAM in
// [base, limit).
func New(w Window, mem *guestmem.Memory, base, limit uint64) *Driver {
	return &Driver{W: w, Mem: mem, next: base, limit: limit}
}

// Reg reads a 32-bit register.
func (d *Driver) Reg(off uint64) uint32 {
	d.W.Read(off, d.reg[:])
	return binary.LittleEndian.Uint32(d.reg[:])
}

// SetReg writes a 32-bit register.
func (d *Driver) SetReg(off uint64, v uint32) {
	binary.LittleEndian.PutUint32(d.reg[:], v)
	d.W.Write(off, d.reg[:])
}

// Alloc returns n bytes of zeroed guest RAM aligned to align.
func (d *Driver) Alloc(n, align uint64) uint64 {
	a := (d.next + align - 1) &^ (align - 1)
	if a+n > d.limit {
		panic(fmt.Sprintf("virtiotest: out of guest memory (%#x+%#x past %#x)", a, n, d.limit))
	}
	d.next = a + n
	b, err := d.Mem.Slice(a, n)
	if err != nil {
		panic(err)
	}
	clear(b)
	return a
}

// Features reads the device's 64 offered feature bits.
func (d *Driver) Features() uint64 {
	d.SetReg(RegDeviceFeatSel, 0)
	lo := d.Reg(RegDeviceFeatures)
	d.SetReg(RegDeviceFeatSel, 1)
	return uint64(d.Reg(RegDeviceFeatures))<<32 | uint64(lo)
}

// Negotiate runs the handshake up to FEATURES_OK with want & offered and
// reports what was accepted; ok is false if the device refused.
func (d *Driver) Negotiate(want uint64) (features uint64, ok bool) {
	d.SetReg(RegStatus, 0)
	d.SetReg(RegStatus, StatusAcknowledge)
	d.SetReg(RegStatus, StatusAcknowledge|StatusDriver)
	features = d.Features() & want
	d.SetReg(RegDriverFeatSel, 0)
	d.SetReg(RegDriverFeatures, uint32(features))
	d.SetReg(RegDriverFeatSel, 1)
	d.SetReg(RegDriverFeatures, uint32(features>>32))
	d.SetReg(RegStatus, StatusAcknowledge|StatusDriver|StatusFeaturesOK)
	return features, d.Reg(RegStatus)&StatusFeaturesOK != 0
}

// SetupQueue lays out queue index with size entries in fresh guest memory
// and programs it, leaving it ready.
func (d *Driver) SetupQueue(index int, size uint16, eventIdx bool) *Queue {
	q := &Queue{d: d, Index: index, Size: size, EventIdx: eventIdx}
	q.Desc = d.Alloc(16*uint64(size), 16)
	q.Avail = d.Alloc(6+2*uint64(size), 2)
	q.Used = d.Alloc(6+8*uint64(size), 4)
	for i := int(size) - 1; i >= 0; i-- {
		q.free = append(q.free, uint16(i))
	}
	d.SetReg(RegQueueSel, uint32(index))
	d.SetReg(RegQueueNum, uint32(size))
	d.SetReg(RegQueueDescLow, uint32(q.Desc))
	d.SetReg(RegQueueDescHigh, uint32(q.Desc>>32))
	d.SetReg(RegQueueDrvLow, uint32(q.Avail))
	d.SetReg(RegQueueDrvHigh, uint32(q.Avail>>32))
	d.SetReg(RegQueueDevLow, uint32(q.Used))
	d.SetReg(RegQueueDevHigh, uint32(q.Used>>32))
	d.SetReg(RegQueueReady, 1)
	for len(d.Queues) <= index {
		d.Queues = append(d.Queues, nil)
	}
	d.Queues[index] = q
	return q
}

// Start sets DRIVER_OK and reports the status read back.
func (d *Driver) Start() uint32 {
	d.SetReg(RegStatus, d.Reg(RegStatus)|StatusDriverOK)
	return d.Reg(RegStatus)
}

// Reset writes status 0 and waits (up to timeout) for it to read back 0.
func (d *Driver) Reset(timeout time.Duration) error {
	d.SetReg(RegStatus, 0)
	deadline := time.Now().Add(timeout)
	for d.Reg(RegStatus) != 0 {
		if time.Now().After(deadline) {
			return fmt.Errorf("virtiotest: status %#x %v after reset", d.Reg(RegStatus), timeout)
		}
		time.Sleep(50 * time.Microsecond)
	}
	for _, q := range d.Queues {
		if q != nil {
			q.reset()
		}
	}
	return nil
}

// Queue is the driver's side of one split virtqueue.
type Queue struct {
	d                  *Driver
	Index              int
	Size               uint16
	EventIdx           bool
	Desc, Avail, Used  uint64
	AvailIdx, lastUsed uint16
	free               []uint16
	chains             map[uint16][]uint16
}

func (q *Queue) reset() {
	q.AvailIdx, q.lastUsed = 0, 0
	q.free = q.free[:0]
	for i := int(q.Size) - 1; i >= 0; i-- {
		q.free = append(q.free, uint16(i))
	}
	q.chains = nil
}

// Buf is one buffer of a chain.
type Buf struct {
	Addr  uint64
	Len   uint32
	Write bool
}

// Desc is a raw descriptor, for building broken chains on purpose.
type Desc struct {
	Addr  uint64
	Len   uint32
	Flags uint16
	Next  uint16
}

func (q *Queue) mem(addr, n uint64) []byte {
	b, err := q.d.Mem.Slice(addr, n)
	if err != nil {
		panic(err)
	}
	return b
}

// WriteDesc writes descriptor i of the table.
func (q *Queue) WriteDesc(i uint16, d Desc) {
	b := q.mem(q.Desc+16*uint64(i), 16)
	binary.LittleEndian.PutUint64(b[0:], d.Addr)
	binary.LittleEndian.PutUint32(b[8:], d.Len)
	binary.LittleEndian.PutUint16(b[12:], d.Flags)
	binary.LittleEndian.PutUint16(b[14:], d.Next)
}

// Add puts bufs on the queue as one chain and makes it available. It
// returns the head, or ok false when the queue has too few free descriptors.
func (q *Queue) Add(bufs []Buf) (head uint16, ok bool) {
	if len(bufs) == 0 || len(bufs) > len(q.free) {
		return 0, false
	}
	ids := make([]uint16, len(bufs))
	for i := range bufs {
		ids[i] = q.free[len(q.free)-1]
		q.free = q.free[:len(q.free)-1]
	}
	for i, b := range bufs {
		d := Desc{Addr: b.Addr, Len: b.Len}
		if b.Write {
			d.Flags |= DescWrite
		}
		if i+1 < len(bufs) {
			d.Flags |= DescNext
			d.Next = ids[i+1]
		}
		q.WriteDesc(ids[i], d)
	}
	if q.chains == nil {
		q.chains = map[uint16][]uint16{}
	}
	q.chains[ids[0]] = ids
	q.Publish(ids[0])
	return ids[0], true
}

// AddIndirect puts bufs in an indirect table behind one descriptor.
func (q *Queue) AddIndirect(bufs []Buf) (head uint16, ok bool) {
	if len(q.free) == 0 {
		return 0, false
	}
	table := q.d.Alloc(16*uint64(len(bufs)), 16)
	for i, b := range bufs {
		t := q.mem(table+16*uint64(i), 16)
		var flags uint16
		if b.Write {
			flags |= DescWrite
		}
		if i+1 < len(bufs) {
			flags |= DescNext
		}
		binary.LittleEndian.PutUint64(t[0:], b.Addr)
		binary.LittleEndian.PutUint32(t[8:], b.Len)
		binary.LittleEndian.PutUint16(t[12:], flags)
		binary.LittleEndian.PutUint16(t[14:], uint16(i+1))
	}
	id := q.free[len(q.free)-1]
	q.free = q.free[:len(q.free)-1]
	q.WriteDesc(id, Desc{Addr: table, Len: uint32(16 * len(bufs)), Flags: DescIndirect})
	if q.chains == nil {
		q.chains = map[uint16][]uint16{}
	}
	q.chains[id] = []uint16{id}
	q.Publish(id)
	return id, true
}

// Publish puts head in the next available ring slot and bumps avail.idx,
// whether or not head names a sensible chain (hostile tests use it raw).
func (q *Queue) Publish(head uint16) {
	slot := uint64(q.AvailIdx % q.Size)
	binary.LittleEndian.PutUint16(q.mem(q.Avail+4+2*slot, 2), head)
	q.AvailIdx++
	_ = guestmem.StoreUint16(q.mem(q.Avail, 4), 2, q.AvailIdx)
}

// SetAvailIdx writes avail.idx directly (a hostile driver's jump).
func (q *Queue) SetAvailIdx(v uint16) {
	q.AvailIdx = v
	_ = guestmem.StoreUint16(q.mem(q.Avail, 4), 2, v)
}

// Kick notifies the device about this queue through QueueNotify.
func (q *Queue) Kick() { q.d.SetReg(RegQueueNotify, uint32(q.Index)) }

// NeedsKick reports whether the device asked to be notified of the
// entries added since old (avail_event with EVENT_IDX, else the
// NO_NOTIFY flag).
func (q *Queue) NeedsKick(old uint16) bool {
	if q.EventIdx {
		ev, _ := guestmem.LoadUint16(q.mem(q.Used+4+8*uint64(q.Size), 2), 0)
		return q.AvailIdx-ev-1 < q.AvailIdx-old
	}
	flags, _ := guestmem.LoadUint16(q.mem(q.Used, 4), 0)
	return flags&1 == 0
}

// SetUsedEvent writes used_event (EVENT_IDX: interrupt me when used.idx passes it).
func (q *Queue) SetUsedEvent(v uint16) {
	_ = guestmem.StoreUint16(q.mem(q.Avail+4+2*uint64(q.Size), 2), 0, v)
}

// UsedIdx reads used.idx.
func (q *Queue) UsedIdx() uint16 {
	v, _ := guestmem.LoadUint16(q.mem(q.Used, 4), 2)
	return v
}

// PopUsed returns the next used entry, if the device has added one, and
// frees its chain's descriptors.
func (q *Queue) PopUsed() (id, length uint32, ok bool) {
	if q.UsedIdx() == q.lastUsed {
		return 0, 0, false
	}
	slot := uint64(q.lastUsed % q.Size)
	e := q.mem(q.Used+4+8*slot, 8)
	id, length = binary.LittleEndian.Uint32(e[0:]), binary.LittleEndian.Uint32(e[4:])
	q.lastUsed++
	if ids, found := q.chains[uint16(id)]; found {
		q.free = append(q.free, ids...)
		delete(q.chains, uint16(id))
	}
	return id, length, true
}

// WaitUsed polls for the next used entry for up to timeout.
func (q *Queue) WaitUsed(timeout time.Duration) (id, length uint32, err error) {
	deadline := time.Now().Add(timeout)
	for {
		if id, length, ok := q.PopUsed(); ok {
			return id, length, nil
		}
		if time.Now().After(deadline) {
			return 0, 0, fmt.Errorf("virtiotest: queue %d: no used entry within %v", q.Index, timeout)
		}
		time.Sleep(20 * time.Microsecond)
	}
}
