//go:build linux

package zerocopy

import (
	"fmt"
	"os"
)

// MaxCount is the largest Config.Count: a Handle keeps the index in 24 bits.
const MaxCount = 1<<indexBits - 1

// MinAlign is the smallest Config.Align: the 512-byte sector every block
// device and O_DIRECT length is a multiple of.
const MinAlign = 512

// Config sizes a Pool. All three fields are required; New validates them.
//
// For O_DIRECT use Align = max(memAlign, MinAlign) and a Size that is a
// multiple of offsetAlign, with memAlign and offsetAlign from DIOAlignment.
type Config struct {
	// Count is the number of buffers, 1..MaxCount. Size it to the device's
	// queue depth: Acquire fails with ErrExhausted rather than wait.
	Count int
	// Size is the length of each buffer in bytes, a positive multiple of Align.
	Size int
	// Align is the address alignment of every buffer: a power of two from
	// MinAlign (512) to the page size (4096 here). The arena is page aligned
	// and Size is a multiple of Align, so buffer i at i*Size is aligned too.
	Align int
}

// validate names the first field that is wrong and how to fix it.
func (c Config) validate() error {
	page := os.Getpagesize()
	switch {
	case c.Count <= 0 || c.Count > MaxCount:
		return fmt.Errorf("%w: Count %d: must be between 1 and %d (buffers in the pool; size it to the queue depth)", ErrInvalidConfig, c.Count, MaxCount)
	case c.Align < MinAlign || c.Align > page || c.Align&(c.Align-1) != 0:
		return fmt.Errorf("%w: Align %d: must be a power of two from %d to the page size %d (use the memory alignment from DIOAlignment, at least %d)", ErrInvalidConfig, c.Align, MinAlign, page, MinAlign)
	case c.Size <= 0 || c.Size%c.Align != 0:
		return fmt.Errorf("%w: Size %d: must be a positive multiple of Align %d (round it up to %d)", ErrInvalidConfig, c.Size, c.Align, roundUp(max(c.Size, 1), c.Align))
	case c.Size > maxArena/c.Count:
		return fmt.Errorf("%w: Count %d x Size %d overflows the arena limit of %d bytes; use fewer or smaller buffers", ErrInvalidConfig, c.Count, c.Size, maxArena)
	}
	return nil
}

// maxArena bounds Count*Size so the product cannot overflow and a typo cannot
// ask mmap for an absurd amount of memory (64 GiB).
const maxArena = 1 << 36

func roundUp(n, a int) int { return (n + a - 1) / a * a }
