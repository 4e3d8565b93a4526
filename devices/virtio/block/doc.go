// Package block is the virtio block device: request parsing (request.go,
// parse.go), the device on a virtqueue (device.go), and the backends that
// execute requests against a disk image, io_uring (uring.go) and plain
// system calls (sync.go), with bounce buffers for O_DIRECT (bounce.go).
// See docs/virtio-blk.md for the path of one request.
package block
