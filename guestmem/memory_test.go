package guestmem

import (
	"errors"
	"sync"
	"testing"
)

func newTestMemory(t testing.TB) *Memory {
	t.Helper()
	m, err := New([]Range{{0, 1 << 20}, {4 << 20, 1 << 20}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	return m
}

func TestSliceBounds(t *testing.T) {
	m := newTestMemory(t)
	if m.Size() != 2<<20 || m.LowEnd() != 1<<20 {
		t.Fatalf("size %#x low end %#x", m.Size(), m.LowEnd())
	}
	for _, c := range []struct{ gpa, n uint64 }{
		{1<<20 - 1, 2},               // straddles the end of the first region
		{1 << 20, 1},                 // in the hole
		{4<<20 - 1, 2},               // straddles into the second region
		{^uint64(0), 2},              // wraps
		{0, ^uint64(0)},              // huge length
		{5 << 20, 1},                 // past the top
		{4<<20 + 1<<20 - 1, 2},       // straddles the top
		{^uint64(0) - 4095, 1 << 12}, // near the top of the address space
	} {
		if _, err := m.Slice(c.gpa, c.n); !errors.Is(err, ErrOutOfRange) {
			t.Errorf("Slice(%#x, %#x) = %v, want ErrOutOfRange", c.gpa, c.n, err)
		}
	}
	b, err := m.Slice(4<<20+16, 16)
	if err != nil || len(b) != 16 || cap(b) != 16 {
		t.Fatalf("Slice in the second region: len %d cap %d %v", len(b), cap(b), err)
	}
	if err := m.Write(4<<20+16, []byte{1, 2, 3}); err != nil || b[2] != 3 {
		t.Fatalf("Write: %v", err)
	}
	if b, err := m.Slice(1<<20, 0); err != nil || len(b) != 0 {
		t.Fatalf("empty slice at the end of a region: %v", err)
	}
}

func TestNewRefusesBadRanges(t *testing.T) {
	for _, rs := range [][]Range{
		{{0, 0}},
		{{1, 4096}},
		{{0, 4097}},
		{{0, 8192}, {4096, 4096}},
		{{^uint64(0) &^ 4095, 8192}},
	} {
		if m, err := New(rs); err == nil {
			m.Close()
			t.Errorf("New(%v) accepted", rs)
		}
	}
}

func TestAtomicUint16(t *testing.T) {
	m := newTestMemory(t)
	b, _ := m.Slice(4096, 64)
	for _, off := range []int{0, 2, 4, 6, 62} {
		if err := StoreUint16(b, off, uint16(0xa500+off)); err != nil {
			t.Fatal(err)
		}
	}
	for _, off := range []int{0, 2, 4, 6, 62} {
		if v, err := LoadUint16(b, off); err != nil || v != uint16(0xa500+off) {
			t.Fatalf("LoadUint16(%d) = %#x, %v", off, v, err)
		}
		if b[off] != byte(off) || b[off+1] != 0xa5 {
			t.Fatalf("bytes at %d are % x: not little-endian", off, b[off:off+2])
		}
	}
	if _, err := LoadUint16(b, 1); !errors.Is(err, ErrUnaligned) {
		t.Errorf("odd offset: %v", err)
	}
	for _, off := range []int{-2, 63, 64, 1 << 30} {
		if _, err := LoadUint16(b, off); !errors.Is(err, ErrOutOfRange) {
			t.Errorf("offset %d: %v", off, err)
		}
		if err := StoreUint16(b, off, 1); !errors.Is(err, ErrOutOfRange) {
			t.Errorf("store offset %d: %v", off, err)
		}
	}
	// A slice starting at byte 2 of a word: the field's word begins before
	// the slice, still inside guest RAM.
	c, _ := m.Slice(4096+2, 2)
	if err := StoreUint16(c, 0, 0x1234); err != nil || b[2] != 0x34 || b[3] != 0x12 || b[0] != 0 {
		t.Fatalf("store through a mid-word slice: %v, % x", err, b[:4])
	}
}

// TestStoreUint16KeepsTheOtherHalf: the guest writes the other half of the
// word concurrently (as a driver writes avail.flags next to the device's
// view of avail.idx); the CAS loop must never undo its writes.
func TestStoreUint16KeepsTheOtherHalf(t *testing.T) {
	m := newTestMemory(t)
	b, _ := m.Slice(8192, 4)
	var wg sync.WaitGroup
	const n = 65535 + 30000
	wg.Add(2)
	go func() {
		defer wg.Done()
		for i := 0; i < n; i++ {
			_ = StoreUint16(b, 0, uint16(i))
		}
	}()
	go func() {
		defer wg.Done()
		for i := 0; i < n; i++ {
			_ = StoreUint16(b, 2, uint16(i))
		}
	}()
	wg.Wait()
	lo, _ := LoadUint16(b, 0)
	hi, _ := LoadUint16(b, 2)
	if lo != uint16((n-1)%65536) || hi != uint16((n-1)%65536) {
		t.Fatalf("halves %d and %d, want %d and %d: a store lost the other half's write", lo, hi, (n-1)%65536, (n-1)%65536)
	}
}

func BenchmarkLoadUint16(b *testing.B) {
	m := newTestMemory(b)
	s, _ := m.Slice(4096, 64)
	for i := 0; i < b.N; i++ {
		_, _ = LoadUint16(s, 2)
	}
}

func BenchmarkStoreUint16(b *testing.B) {
	m := newTestMemory(b)
	s, _ := m.Slice(4096, 64)
	for i := 0; i < b.N; i++ {
		_ = StoreUint16(s, 2, uint16(i))
	}
}

func BenchmarkSlice(b *testing.B) {
	m := newTestMemory(b)
	for i := 0; i < b.N; i++ {
		_, _ = m.Slice(4<<20+4096, 4096)
	}
}
