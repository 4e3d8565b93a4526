package vmm

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"

	"vmm/devices/virtio/block"
	"vmm/zerocopy"
)

// MaxDisks is how many --disk a VM takes.
const MaxDisks = 8

// DiskConfig is one disk: an image file or block device on the host.
type DiskConfig struct {
	Path     string
	ReadOnly bool
	// Direct opens the image with O_DIRECT: no host page cache; misaligned
	// guest buffers go through bounce buffers.
	Direct bool
	// ID is what the guest reads with GET_ID (at most 20 bytes).
	ID string
	// Engine is the backend: "uring", "sync", or "" for io_uring with a
	// fallback to sync where io_uring is unavailable.
	Engine string
	// Unsafe does not offer FLUSH and does not write through either: the
	// guest cannot make anything durable (Firecracker's cache_type Unsafe).
	Unsafe bool
}

// diskImage is an opened, locked disk.
type diskImage struct {
	cfg                DiskConfig
	file               *os.File // for I/O (an io_uring backend registers it)
	lock               *os.File // holds the flock: never shared with io_uring
	size               uint64   // bytes exposed to the guest: a multiple of 512
	memAlign, offAlign uint32   // O_DIRECT alignment (Direct only)
}

// openDisk opens and locks one disk. The lock (flock: shared for a
// read-only disk, exclusive otherwise) means two VMMs can never both write
// an image, nor one write what another reads. Errors name the disk and
// what to do.
func openDisk(d DiskConfig) (*diskImage, error) {
	flags := unix.O_CLOEXEC | unix.O_NOCTTY | unix.O_NONBLOCK
	if d.ReadOnly {
		flags |= unix.O_RDONLY
	} else {
		flags |= unix.O_RDWR
	}
	if d.Direct {
		flags |= unix.O_DIRECT
	}
	fd, err := unix.Open(d.Path, flags, 0)
	for err == unix.EINTR {
		fd, err = unix.Open(d.Path, flags, 0)
	}
	switch {
	case errors.Is(err, unix.ENOENT):
		return nil, fmt.Errorf("disk %s does not exist", d.Path)
	case errors.Is(err, unix.EACCES), errors.Is(err, unix.EPERM), errors.Is(err, unix.EROFS):
		if d.ReadOnly {
			return nil, fmt.Errorf("disk %s: %v: give vmm read access to it", d.Path, err)
		}
		return nil, fmt.Errorf("disk %s: %v: give vmm read and write access, or add ,ro", d.Path, err)
	case errors.Is(err, unix.EINVAL) && d.Direct:
		return nil, fmt.Errorf("disk %s: its filesystem does not support O_DIRECT: drop ,direct", d.Path)
	case errors.Is(err, unix.EISDIR):
		return nil, fmt.Errorf("disk %s is a directory, not a disk image", d.Path)
	case err != nil:
		return nil, fmt.Errorf("disk %s: %v", d.Path, err)
	}
	f := os.NewFile(uintptr(fd), d.Path)
	img := &diskImage{cfg: d, file: f}
	if err := img.check(); err != nil {
		img.close()
		return nil, err
	}
	return img, nil
}

// close closes the image and releases its lock.
func (img *diskImage) close() {
	img.file.Close()
	if img.lock != nil {
		img.lock.Close()
	}
}

func (img *diskImage) check() error {
	d := img.cfg
	fd := int(img.file.Fd())
	// Back to blocking mode: O_NONBLOCK was only there so that opening a
	// FIFO by mistake could not hang.
	if err := unix.SetNonblock(fd, false); err != nil {
		return fmt.Errorf("disk %s: %v", d.Path, err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return fmt.Errorf("disk %s: %v", d.Path, err)
	}
	var size int64
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFREG:
		size = st.Size
	case unix.S_IFBLK:
		end, err := img.file.Seek(0, io.SeekEnd)
		if err != nil {
			return fmt.Errorf("disk %s: size of the block device: %v", d.Path, err)
		}
		size = end
	default:
		return fmt.Errorf("disk %s is not a regular file or block device: give a disk image", d.Path)
	}
	if img.lock == nil {
		if err := img.takeLock(fd); err != nil {
			return err
		}
	}
	if size < block.SectorSize {
		return fmt.Errorf("disk %s is %d bytes, smaller than one 512-byte sector", d.Path, size)
	}
	img.size = uint64(size) &^ (block.SectorSize - 1)
	if tail := uint64(size) - img.size; tail != 0 {
		logrus.WithField("disk", d.Path).Warnf("disk size %d is not a multiple of 512: the last %d bytes are not visible to the guest", size, tail)
	}
	if d.Direct {
		mem, off, err := zerocopy.DIOAlignmentFD(fd)
		if err != nil {
			return fmt.Errorf("disk %s: O_DIRECT alignment: %v: drop ,direct", d.Path, err)
		}
		img.memAlign, img.offAlign = mem, off
		if uint64(off) > block.SectorSize && img.size%uint64(off) != 0 {
			img.size -= img.size % uint64(off)
		}
	}
	return nil
}

// blockSize is the logical block size the guest is told about.
func (img *diskImage) blockSize() uint32 {
	return max(block.SectorSize, img.offAlign)
}

// takeLock locks the image: shared for a read-only disk, exclusive
// otherwise. The lock lives on an open file description of its own. An
// io_uring ring keeps a reference to the file it registered and drops it in
// deferred work after the process dies, so a lock on the I/O descriptor
// would outlive a killed vmm for a moment and make an immediate restart
// fail with "in use". Reopening through /proc gives a new description of
// the very same file (no path race).
func (img *diskImage) takeLock(fd int) error {
	d := img.cfg
	lock, err := os.OpenFile(fmt.Sprintf("/proc/self/fd/%d", fd), os.O_RDONLY|unix.O_CLOEXEC|unix.O_NOCTTY, 0)
	if err != nil {
		return fmt.Errorf("disk %s: reopen for locking: %v", d.Path, err)
	}
	img.lock = lock
	how := unix.LOCK_EX
	if d.ReadOnly {
		how = unix.LOCK_SH
	}
	if err := unix.Flock(int(lock.Fd()), how|unix.LOCK_NB); err != nil {
		if errors.Is(err, unix.EWOULDBLOCK) {
			return fmt.Errorf("disk %s is in use by another process (it holds a lock on it): stop that VM first, or add ,ro to both", d.Path)
		}
		return fmt.Errorf("disk %s: lock: %v", d.Path, err)
	}
	return nil
}
