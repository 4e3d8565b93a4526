//go:build linux

package zerocopy

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// diskFile writes blocks of distinct patterns (block k is filled with byte
// 'A'+k) and reopens the file with O_DIRECT when the filesystem allows it.
func diskFile(t *testing.T, blocks, blockSize int) *os.File {
	t.Helper()
	path := filepath.Join(t.TempDir(), "disk.img")
	var data []byte
	for k := range blocks {
		data = append(data, bytes.Repeat([]byte{byte('A' + k)}, blockSize)...)
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(path, os.O_RDONLY|unix.O_DIRECT, 0)
	if err != nil {
		t.Logf("O_DIRECT refused (%v); reading through the page cache", err)
		if f, err = os.Open(path); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func block(k, size int) []byte { return bytes.Repeat([]byte{byte('A' + k)}, size) }

// TestSharedBufferOutlivesFirstCompletion is the use-after-free the pool
// exists to prevent. Two requests share one bounce buffer (Acquire +
// Retain). The first completes and releases; the second still reads from
// the buffer. If the buffer went back to the free list on that first
// release, the next request would get it and its read would overwrite the
// second request's data. Here every other buffer is taken and filled by
// real reads while the second request holds its reference, and its data
// must come through intact.
func TestSharedBufferOutlivesFirstCompletion(t *testing.T) {
	const bs = 4096
	f := diskFile(t, 8, bs)
	mem, off, err := DIOAlignment(f)
	if err != nil {
		t.Fatal(err)
	}
	align := max(int(mem), MinAlign)
	if off > bs || align > bs {
		t.Skipf("file needs alignment %d/%d, more than the %d-byte blocks used here", mem, off, bs)
	}
	p := newPool(t, Config{Count: 4, Size: bs, Align: align})
	fd := int(f.Fd())

	shared, err := p.Acquire()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Retain(shared); err != nil { // request 2 joins
		t.Fatal(err)
	}
	buf, _ := p.Bytes(shared)
	if n, err := unix.Pread(fd, buf, 0); err != nil || n != bs {
		t.Fatalf("pread block 0: %d, %v", n, err)
	}

	// Request 1 completes.
	if err := p.Release(shared); err != nil {
		t.Fatal(err)
	}

	// New requests take every remaining buffer and read other blocks into
	// them. None may be the shared buffer.
	var others []Handle
	for k := 1; ; k++ {
		h, err := p.Acquire()
		if errors.Is(err, ErrExhausted) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Index() == shared.Index() {
			t.Fatalf("buffer %d came back from Acquire while request 2 still holds it", h.Index())
		}
		b, _ := p.Bytes(h)
		if n, err := unix.Pread(fd, b, int64(k*bs)); err != nil || n != bs {
			t.Fatalf("pread block %d: %d, %v", k, n, err)
		}
		others = append(others, h)
	}
	if len(others) != p.Count()-1 {
		t.Fatalf("acquired %d other buffers, want %d", len(others), p.Count()-1)
	}

	// Request 2 still sees exactly what it read.
	buf2, err := p.Bytes(shared)
	if err != nil {
		t.Fatalf("request 2 lost its buffer: %v", err)
	}
	if !bytes.Equal(buf2, block(0, bs)) {
		t.Fatalf("request 2's data was overwritten: starts %q", buf2[:8])
	}
	for k, h := range others {
		b, _ := p.Bytes(h)
		if !bytes.Equal(b, block(k+1, bs)) {
			t.Fatalf("buffer %d has %q, want block %d", h.Index(), b[:8], k+1)
		}
	}

	// Request 2 completes: now, and only now, the buffer is reusable, and
	// request 2's handle is dead.
	if err := p.Release(shared); err != nil {
		t.Fatal(err)
	}
	again, err := p.Acquire()
	if err != nil || again.Index() != shared.Index() {
		t.Fatalf("Acquire after last release = %+v, %v; want buffer %d", again, err, shared.Index())
	}
	if _, err := p.Bytes(shared); !errors.Is(err, ErrStaleHandle) {
		t.Fatalf("Bytes through request 2's old handle = %v, want ErrStaleHandle", err)
	}
	if err := p.Release(shared); !errors.Is(err, ErrDoubleRelease) {
		t.Fatalf("third Release of the shared handle = %v, want ErrDoubleRelease", err)
	}
	for _, h := range append(others, again) {
		if err := p.Release(h); err != nil {
			t.Fatal(err)
		}
	}
}

// TestAddrIsKernelUsable hands Addr to the kernel as a raw address, the way
// an io_uring SQE carries it, and checks the data lands in Bytes.
func TestAddrIsKernelUsable(t *testing.T) {
	const bs = 4096
	f := diskFile(t, 3, bs)
	p := newPool(t, Config{Count: 2, Size: bs, Align: 4096})
	for k := range 3 {
		h, err := p.Acquire()
		if err != nil {
			t.Fatal(err)
		}
		addr, err := p.Addr(h)
		if err != nil {
			t.Fatal(err)
		}
		n, _, errno := unix.Syscall6(unix.SYS_PREAD64, f.Fd(), addr, bs, uintptr(k*bs), 0, 0)
		if errno != 0 || n != bs {
			t.Fatalf("pread64 to %#x: %d, %v", addr, n, errno)
		}
		b, _ := p.Bytes(h)
		if !bytes.Equal(b, block(k, bs)) {
			t.Fatalf("block %d read to Addr: buffer holds %q", k, b[:8])
		}
		p.Release(h)
	}
}
