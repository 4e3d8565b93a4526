package block

import (
	"bytes"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"vmm/guestmem"
	"vmm/iouring"
)

// rawSubmit sends one hand-made SQE through the backend's ring and returns
// its result, as a process taken over by an attacker could.
func rawSubmit(t *testing.T, u *Uring, prep func(*iouring.SQE)) int32 {
	t.Helper()
	s := u.ring.GetSQE()
	prep(s)
	s.SetUserData(1 << 62)
	if _, err := u.ring.SubmitAndWait(1); err != nil {
		t.Fatal(err)
	}
	c, err := u.ring.WaitCQE()
	if err != nil {
		t.Fatal(err)
	}
	defer u.ring.CQESeen(c)
	if c.UserData != 1<<62 {
		t.Fatalf("unexpected completion %+v (the kick READ?)", *c)
	}
	return c.Res
}

// The ring refuses every opcode it was not restricted to, any file that is
// not one of its two registered ones, and every io_uring_register call.
func TestUringRestrictions(t *testing.T) {
	e := newTestEnv(t, backendKinds[0], envConfig{})
	u := e.b.(*Uring)
	path := e.iov(0, 64)
	copy(iovBytes(&path), "/etc/hostname\x00")
	buf := e.segs(8, 0, 4096)
	fd, err := fileFD(e.file)
	if err != nil {
		t.Fatal(err)
	}
	eacces := -int32(unix.EACCES)
	cases := []struct {
		name string
		prep func(*iouring.SQE)
		want int32
	}{
		{"allowed: READV on the fixed disk", func(s *iouring.SQE) {
			s.PrepReadv(diskIndex, buf, 0)
			s.SetFixedFile()
		}, 4096},
		{"OPENAT", func(s *iouring.SQE) {
			s.Opcode = iouring.OpOpenat
			s.Fd = unix.AT_FDCWD
			s.Addr = uint64(guestmem.AddressOf(iovBytes(&path)))
			s.SetFixedFile()
		}, eacces},
		{"OPENAT without the fixed-file flag", func(s *iouring.SQE) {
			s.Opcode = iouring.OpOpenat
			s.Fd = unix.AT_FDCWD
			s.Addr = uint64(guestmem.AddressOf(iovBytes(&path)))
		}, eacces},
		{"READV on the disk's real fd, not fixed", func(s *iouring.SQE) {
			s.PrepReadv(int32(fd), buf, 0)
		}, eacces},
		{"WRITE (not allowed)", func(s *iouring.SQE) {
			s.PrepWriteAddr(diskIndex, iovAddr(&buf[0]), 4096, 0)
			s.SetFixedFile()
		}, eacces},
		{"READ_FIXED (not allowed without registered buffers)", func(s *iouring.SQE) {
			s.PrepReadFixedAddr(diskIndex, iovAddr(&buf[0]), 4096, 0, 0)
			s.SetFixedFile()
		}, eacces},
		// Last: on this kernel (6.18) a refused IO_DRAIN SQE still turns
		// the ring's drain mode on, so every later request waits for the
		// armed kick READ. The backend never sets the flag; a process
		// that does can only stall its own disk.
		{"READV with IO_DRAIN (flag not allowed)", func(s *iouring.SQE) {
			s.PrepReadv(diskIndex, buf, 0)
			s.SetFixedFile()
			s.SetFlags(iouring.SQEIODrain)
		}, eacces},
	}
	for i, c := range cases {
		if i == len(cases)-1 {
			// The backend still works after all that.
			wantResults(t, e.run(rw(TypeIn, 0, e.segs(8, 0, 4096))), 4096)
		}
		if got := rawSubmit(t, u, c.prep); got != c.want {
			t.Errorf("%s: res %d (%v), want %d", c.name, got, resultErr(got), c.want)
		}
	}
	if _, err := u.ring.RegisterFilesUpdate(0, []int32{int32(fd)}); err == nil {
		t.Error("io_uring_register(FILES_UPDATE) allowed on the restricted ring")
	}
	if err := u.ring.RegisterBufferRegions([]iouring.BufferRegion{{Addr: iovAddr(&buf[0]), Len: 4096}}); err == nil {
		t.Error("io_uring_register(BUFFERS) allowed on the restricted ring")
	}
}

// What the backend puts in each SQE: the fixed-file flag always, no drain,
// RWF_DSYNC on Durable writes, DATASYNC fsyncs, and a Durable
// fallocate followed by its fdatasync.
func TestUringSQEs(t *testing.T) {
	type sqe struct {
		op      uint8
		flags   uint8
		opFlags uint32
	}
	fixed := iouring.SQEFixedFile
	ds := iouring.FsyncDatasync
	punch := uint32(unix.FALLOC_FL_PUNCH_HOLE | unix.FALLOC_FL_KEEP_SIZE)
	zero := uint32(unix.FALLOC_FL_ZERO_RANGE | unix.FALLOC_FL_KEEP_SIZE)
	cases := []struct {
		name    string
		durable bool
		req     func(e *testEnv) *Request
		want    []sqe
		mode    uint32 // fallocate mode, if any
	}{
		{"IN", false, func(e *testEnv) *Request { return rw(TypeIn, 0, e.segs(8, 0, 512)) }, []sqe{{iouring.OpReadv, fixed, 0}}, 0},
		{"OUT", false, func(e *testEnv) *Request { return rw(TypeOut, 0, e.segs(8, 0, 512)) }, []sqe{{iouring.OpWritev, fixed, 0}}, 0},
		{"OUT durable", true, func(e *testEnv) *Request { return rw(TypeOut, 0, e.segs(8, 0, 512)) }, []sqe{{iouring.OpWritev, fixed, unix.RWF_DSYNC}}, 0},
		{"FLUSH", false, func(e *testEnv) *Request { return &Request{Type: TypeFlush} }, []sqe{{iouring.OpFsync, fixed, ds}}, 0},
		{"DISCARD", false, func(e *testEnv) *Request { return &Request{Type: TypeDiscard, Len: 4096} }, []sqe{{iouring.OpFallocate, fixed, 0}}, punch},
		{"DISCARD durable", true, func(e *testEnv) *Request { return &Request{Type: TypeDiscard, Len: 4096} },
			[]sqe{{iouring.OpFallocate, fixed, 0}, {iouring.OpFsync, fixed, ds}}, punch},
		{"WRITE_ZEROES", false, func(e *testEnv) *Request { return &Request{Type: TypeWriteZeroes, Len: 4096} },
			[]sqe{{iouring.OpFallocate, fixed, 0}}, zero},
		{"WRITE_ZEROES unmap", false, func(e *testEnv) *Request { return &Request{Type: TypeWriteZeroes, Len: 4096, Unmap: true} },
			[]sqe{{iouring.OpFallocate, fixed, 0}}, punch},
		{"WRITE_ZEROES durable", true, func(e *testEnv) *Request { return &Request{Type: TypeWriteZeroes, Len: 4096} },
			[]sqe{{iouring.OpFallocate, fixed, 0}, {iouring.OpFsync, fixed, ds}}, zero},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newTestEnv(t, backendKinds[0], envConfig{})
			u := e.b.(*Uring)
			var got []sqe
			var modes []uint32
			u.onIssue = func(s *iouring.SQE) {
				got = append(got, sqe{s.Opcode, s.Flags, s.OpFlags})
				if s.Opcode == iouring.OpFallocate {
					modes = append(modes, uint32(s.Len))
				}
			}
			r := c.req(e)
			r.Durable = c.durable
			want := int32(0)
			if r.Type == TypeIn || r.Type == TypeOut {
				want = int32(r.Len)
			}
			wantResults(t, e.run(r), want)
			if len(got) != len(c.want) {
				t.Fatalf("SQEs %+v, want %+v", got, c.want)
			}
			for i := range got {
				if got[i] != c.want[i] {
					t.Errorf("SQE %d: %+v, want %+v", i, got[i], c.want[i])
				}
			}
			for _, m := range modes {
				if m != c.mode {
					t.Errorf("fallocate mode %#x, want %#x", m, c.mode)
				}
			}
		})
	}
}

// With guest RAM registered as fixed buffers, single-segment transfers go
// through READ_FIXED/WRITE_FIXED, multi-segment ones through READV/WRITEV,
// and the data is right either way.
func TestUringFixedBuffers(t *testing.T) {
	e := newTestEnv(t, backendKinds[0], envConfig{})
	e.b.Close()
	r := &e.mem.Regions[0]
	u, err := newUring(e.file, e.kick, Options{QueueSize: 8}, uringConfig{
		fixed: []iouring.BufferRegion{{Addr: guestmem.AddressOf(r.Mem), Len: uint64(len(r.Mem))}},
	})
	if err != nil {
		t.Fatal(err)
	}
	e.b = u
	var ops []uint8
	u.onIssue = func(s *iouring.SQE) { ops = append(ops, s.Opcode) }
	one, two := e.segs(4096, 0, 8192), e.segs(4096, 0, 4096, 4096)
	wantResults(t, e.run(rw(TypeIn, 8192, one), rw(TypeIn, 8192, two)), 8192, 8192)
	eq(t, "READ_FIXED", gather(one), pattern(8192, 8192))
	eq(t, "READV", gather(two), pattern(8192, 8192))
	out := e.segs(4096, 0, 4096)
	scatter(out, bytes.Repeat([]byte{7}, 4096))
	wantResults(t, e.run(rw(TypeOut, 0, out)), 4096)
	eq(t, "WRITE_FIXED", e.fileAt(0, 4096), bytes.Repeat([]byte{7}, 4096))
	want := []uint8{iouring.OpReadFixed, iouring.OpReadv, iouring.OpWriteFixed}
	if !bytes.Equal(ops, want) {
		t.Errorf("opcodes %v, want %v", ops, want)
	}
}

// Close completes the armed kick READ before unmapping its buffer, and the
// eventfd (the caller's) stays usable.
func TestUringCloseDisarmsKick(t *testing.T) {
	e := newTestEnv(t, backendKinds[0], envConfig{})
	u := e.b.(*Uring)
	if u.kickArmed {
		t.Fatal("kick READ armed by NewUring: a replacement backend would steal its predecessor's wake-ups")
	}
	if err := u.armKick(); err != nil {
		t.Fatal(err)
	}
	if _, err := u.ring.Submit(); err != nil {
		t.Fatal(err)
	}
	if err := u.Close(); err != nil {
		t.Fatal(err)
	}
	if u.kickArmed || u.kickBuf != nil || u.ring != nil {
		t.Fatalf("after Close: armed=%v buf=%v ring=%v", u.kickArmed, u.kickBuf != nil, u.ring != nil)
	}
	if err := u.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := unix.Write(e.kick, []byte{1, 0, 0, 0, 0, 0, 0, 0}); err != nil {
		t.Fatalf("eventfd after Close: %v", err)
	}
}

// TestUringSecondBackendDoesNotStealKicks: a backend built to replace a
// running one shares the queue's eventfd; until its first Wait it must not
// consume the notifications meant for the one in use (a disk swap through
// the API waited for the guest's next kick, a minute in a test, before).
func TestUringSecondBackendDoesNotStealKicks(t *testing.T) {
	e := newTestEnv(t, backendKinds[0], envConfig{})
	next, err := NewUring(e.file, e.kick, Options{QueueSize: 8})
	if err != nil {
		t.Fatal(err)
	}
	defer next.Close()
	got := make(chan bool, 1)
	go func() {
		_, kicked, _ := e.b.Wait(make([]Completion, 0, 8), true)
		got <- kicked
	}()
	time.Sleep(20 * time.Millisecond)
	if err := e.b.Wake(); err != nil {
		t.Fatal(err)
	}
	select {
	case k := <-got:
		if !k {
			t.Fatal("Wait returned without the kick")
		}
	case <-time.After(10 * time.Second): // hang guard
		t.Fatal("the backend in use never saw its wake-up: the new backend took it")
	}
}
