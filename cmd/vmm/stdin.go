package main

import (
	"encoding/binary"
	"io"

	"golang.org/x/sys/unix"
)

// stopReader reads a descriptor (stdin) until stop is called. It waits in
// poll(2) on the descriptor and an eventfd together, so the reading
// goroutine ends when the VM stops instead of sitting in read(2) until the
// user types something.
type stopReader struct {
	fd     int
	stopFD int // eventfd
}

func newStopReader(fd int) (*stopReader, error) {
	efd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		return nil, err
	}
	return &stopReader{fd: fd, stopFD: efd}, nil
}

// Read returns io.EOF once stop has been called or the input ended.
func (r *stopReader) Read(p []byte) (int, error) {
	for {
		fds := []unix.PollFd{{Fd: int32(r.fd), Events: unix.POLLIN}, {Fd: int32(r.stopFD), Events: unix.POLLIN}}
		if _, err := unix.Poll(fds, -1); err != nil {
			if err == unix.EINTR {
				continue
			}
			return 0, err
		}
		if fds[1].Revents != 0 {
			return 0, io.EOF
		}
		if fds[0].Revents == 0 {
			continue
		}
		n, err := unix.Read(r.fd, p)
		switch {
		case err == unix.EINTR || err == unix.EAGAIN:
			continue
		case err != nil:
			return 0, err
		case n == 0:
			return 0, io.EOF
		}
		return n, nil
	}
}

// stop makes Read return io.EOF, now or at its next call.
func (r *stopReader) stop() {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], 1)
	_, _ = unix.Write(r.stopFD, b[:])
}

// close releases the eventfd. Call it once Read can no longer run.
func (r *stopReader) close() { _ = unix.Close(r.stopFD) }
