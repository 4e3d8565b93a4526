package telemetry

import (
	"errors"
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// Output is a log or metrics destination: a regular file (appended to,
// created 0600 if missing), a named pipe, or a character device.
type Output struct {
	f    *os.File
	fifo bool
}

// writeTimeout bounds how long a write waits for a pipe reader: a reader
// that stops reading must not stop the VM's metrics or logging for good.
const writeTimeout = time.Second

// OpenOutput opens path for writing. A named pipe is opened for reading
// and writing without blocking, as Firecracker does: the open never waits
// for a reader, and writes wait at most a second for one. A symbolic link
// is refused (as for --console file:), so nobody else can choose which
// file vmm appends to.
func OpenOutput(path string) (*Output, error) {
	var st unix.Stat_t
	err := unix.Lstat(path, &st)
	switch {
	case err == nil && st.Mode&unix.S_IFMT == unix.S_IFIFO:
		fd, err := unix.Open(path, unix.O_RDWR|unix.O_NONBLOCK|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", path, err)
		}
		// A non-blocking descriptor goes through Go's poller, so a write
		// to a full pipe parks the goroutine until the deadline.
		return &Output{f: os.NewFile(uintptr(fd), path), fifo: true}, nil
	case err == nil && st.Mode&unix.S_IFMT == unix.S_IFLNK:
		return nil, fmt.Errorf("%s is a symbolic link: give the file's real path", path)
	case err == nil && st.Mode&unix.S_IFMT != unix.S_IFREG && st.Mode&unix.S_IFMT != unix.S_IFCHR:
		return nil, fmt.Errorf("%s is not a file, named pipe or character device", path)
	case err != nil && !errors.Is(err, unix.ENOENT):
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	fd, err := unix.Open(path, unix.O_WRONLY|unix.O_APPEND|unix.O_CREAT|unix.O_CLOEXEC|unix.O_NOFOLLOW|unix.O_NOCTTY, 0o600)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	return &Output{f: os.NewFile(uintptr(fd), path)}, nil
}

// Write writes p, waiting at most writeTimeout for a pipe's reader.
func (o *Output) Write(p []byte) (int, error) {
	if o.fifo {
		_ = o.f.SetWriteDeadline(time.Now().Add(writeTimeout))
	}
	return o.f.Write(p)
}

// Close closes the destination.
func (o *Output) Close() error { return o.f.Close() }

// Name is the path it was opened with.
func (o *Output) Name() string { return o.f.Name() }
