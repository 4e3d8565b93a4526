//go:build linux

package zerocopy

import "testing"

// BenchmarkAcquireRelease is one bounce-buffer round trip on one goroutine.
func BenchmarkAcquireRelease(b *testing.B) {
	p := newPool(b, Config{Count: 64, Size: 4096, Align: 4096})
	b.ReportAllocs()
	for b.Loop() {
		h, err := p.Acquire()
		if err != nil {
			b.Fatal(err)
		}
		if err := p.Release(h); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAcquireReleaseParallel contends on the free list head from
// GOMAXPROCS goroutines.
func BenchmarkAcquireReleaseParallel(b *testing.B) {
	p := newPool(b, Config{Count: 64, Size: 4096, Align: 4096})
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			h, err := p.Acquire()
			if err != nil {
				b.Error(err) // Count exceeds any GOMAXPROCS here
				return
			}
			p.Release(h)
		}
	})
}

// BenchmarkSharedRequest is the two-request pattern: Acquire, Retain,
// Bytes, then two Releases.
func BenchmarkSharedRequest(b *testing.B) {
	p := newPool(b, Config{Count: 64, Size: 4096, Align: 4096})
	b.ReportAllocs()
	for b.Loop() {
		h, _ := p.Acquire()
		p.Retain(h)
		buf, _ := p.Bytes(h)
		buf[0] = 1
		p.Release(h)
		p.Release(h)
	}
}
