// Package zerocopy is a pool of refcounted, aligned buffers carved from one
// anonymous mmap arena.
//
// The virtio block device takes a bounce buffer from it when a guest data
// segment cannot go to an O_DIRECT file as is (misaligned address or
// length). The arena lives outside the Go heap, so buffer addresses never
// move and can be handed to the kernel; its iovecs can be registered as
// io_uring fixed buffers, buffer index = fixed-buffer index.
//
// A buffer is named by a Handle (index + generation). Acquire gives a
// reference count of one, Retain adds a reference for another in-flight
// user, Release drops one; the buffer returns to the free list exactly when
// the count reaches zero, and its generation moves on so that every old
// Handle goes stale. Misuse (double release, use after release, forged
// handles) is reported as an error and counted in Stats, never turned into a
// buffer that two requests write at once.
package zerocopy
