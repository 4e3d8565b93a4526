package guestmem

import (
	"sync/atomic"
	"unsafe"
)

// Virtqueue ring indices and flags are 16-bit fields the guest reads and
// writes concurrently with the device. Go's sync/atomic has no 16-bit
// operations, so these work on the naturally aligned 32-bit word that holds
// the field: a load reads the word atomically and extracts the half; a
// store swaps the half in with compare-and-swap, retrying if the guest
// changed the other half meanwhile. Go's atomics are sequentially
// consistent, which gives the acquire (after a load) and release (before a
// store) ordering the virtio spec asks of ring accesses.
//
// b must be a slice of guest RAM (Slice), so the containing word is guest
// RAM too: regions are page-aligned, and a 2-aligned field never shares a
// word with anything outside its page.

// LoadUint16 atomically reads the little-endian uint16 at b[off:off+2].
// off must be even and off+2 ≤ len(b), or it returns ErrUnaligned/ErrOutOfRange.
func LoadUint16(b []byte, off int) (uint16, error) {
	w, shift, err := word16(b, off)
	if err != nil {
		return 0, err
	}
	return uint16(atomic.LoadUint32(w) >> shift), nil
}

// StoreUint16 atomically writes v as the little-endian uint16 at b[off:off+2].
func StoreUint16(b []byte, off int, v uint16) error {
	w, shift, err := word16(b, off)
	if err != nil {
		return err
	}
	mask := uint32(0xffff) << shift
	for {
		old := atomic.LoadUint32(w)
		if atomic.CompareAndSwapUint32(w, old, old&^mask|uint32(v)<<shift) {
			return nil
		}
	}
}

// word16 locates the aligned 32-bit word holding the uint16 at b[off].
func word16(b []byte, off int) (*uint32, uint, error) {
	if off < 0 || off > len(b)-2 {
		return nil, 0, ErrOutOfRange
	}
	base := unsafe.Pointer(unsafe.SliceData(b))
	misalign := int((uintptr(base) + uintptr(off)) % 4)
	if misalign%2 != 0 {
		return nil, 0, ErrUnaligned
	}
	// The host is little-endian (x86-64): a field at byte 2 of its word is
	// the word's high half.
	return (*uint32)(unsafe.Add(base, off-misalign)), uint(misalign) * 8, nil
}
