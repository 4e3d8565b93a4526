package main

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"

	"vmm/vmm"
)

// inputFile is a kernel or initrd mapped read-only. Mapping rather than
// reading keeps a large file off the Go heap (it costs page cache, shared
// and reclaimable) and reads only what the loader touches.
type inputFile struct {
	data []byte
}

// openInput maps the kernel or initrd at path. It refuses, with one line
// naming the file, anything but a non-empty regular file no larger than
// limit (the guest's RAM: nothing bigger could be loaded), before reading
// a byte: a FIFO, a device such as /dev/zero or a huge sparse file never
// blocks the VMM or exhausts its memory.
func openInput(what, path string, limit uint64) (*inputFile, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	for err == unix.EINTR {
		fd, err = unix.Open(path, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	}
	switch {
	case errors.Is(err, unix.ENOENT):
		return nil, fmt.Errorf("%s %s does not exist", what, path)
	case err != nil:
		return nil, fmt.Errorf("%s %s: %v", what, path, err)
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return nil, fmt.Errorf("%s %s: %v", what, path, err)
	}
	switch kind := st.Mode & unix.S_IFMT; {
	case kind == unix.S_IFDIR:
		return nil, fmt.Errorf("%s %s is a directory, not a file", what, path)
	case kind != unix.S_IFREG:
		return nil, fmt.Errorf("%s %s is %s, not a regular file: give the path of an image file", what, path, nodeKind(kind))
	case st.Size == 0:
		return nil, fmt.Errorf("%s %s is empty", what, path)
	case uint64(st.Size) > limit:
		return nil, fmt.Errorf("%s %s is %s, more than the guest's %s of RAM: raise --mem, or check that this is the right file",
			what, path, vmm.FormatSize(uint64(st.Size)), vmm.FormatSize(limit))
	}
	data, err := unix.Mmap(fd, 0, int(st.Size), unix.PROT_READ, unix.MAP_PRIVATE)
	if err != nil {
		return nil, fmt.Errorf("%s %s: map %s: %v", what, path, vmm.FormatSize(uint64(st.Size)), err)
	}
	return &inputFile{data: data}, nil
}

// close unmaps the file; its bytes must not be used afterwards.
func (f *inputFile) close() {
	if f != nil && f.data != nil {
		_ = unix.Munmap(f.data)
		f.data = nil
	}
}

// nodeKind names a file type for error messages.
func nodeKind(kind uint32) string {
	switch kind {
	case unix.S_IFIFO:
		return "a named pipe (FIFO)"
	case unix.S_IFCHR:
		return "a character device"
	case unix.S_IFBLK:
		return "a block device"
	case unix.S_IFSOCK:
		return "a socket"
	case unix.S_IFLNK:
		return "a symbolic link"
	}
	return "not a regular file"
}
