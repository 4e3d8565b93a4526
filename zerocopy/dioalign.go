//go:build linux

package zerocopy

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// FallbackAlign is what DIOAlignment reports for a regular file whose
// filesystem does not fill STATX_DIOALIGN (kernels before 6.1, or
// filesystems without the hook). O_DIRECT then needs the logical block size
// of the device underneath, which a file descriptor does not reveal; 4096 is
// a multiple of every logical block size in common use (512 and 4K-native
// disks), so buffers, offsets and lengths aligned to it are accepted either
// way. Smaller would fail with EINVAL on 4K-native disks.
const FallbackAlign = 4096

// DIOAlignment reports the alignment O_DIRECT needs for f: memAlign for
// buffer addresses, offsetAlign for file offsets and lengths.
//
// It asks statx for STATX_DIOALIGN. Where the kernel leaves that unfilled,
// a block device answers with its logical block size (BLKSSZGET) for both,
// and a regular file gets FallbackAlign for both. A file that cannot do
// O_DIRECT at all yields ErrNoDirectIO.
//
// It uses f's descriptor through SyscallConn, which (unlike f.Fd) leaves a
// non-blocking file non-blocking.
func DIOAlignment(f *os.File) (memAlign, offsetAlign uint32, err error) {
	rc, err := f.SyscallConn()
	if err != nil {
		return 0, 0, fmt.Errorf("zerocopy: DIOAlignment(%s): %w", f.Name(), err)
	}
	cerr := rc.Control(func(fd uintptr) {
		memAlign, offsetAlign, err = DIOAlignmentFD(int(fd))
	})
	if cerr != nil {
		return 0, 0, fmt.Errorf("zerocopy: DIOAlignment(%s): %w", f.Name(), cerr)
	}
	return memAlign, offsetAlign, err
}

// DIOAlignmentFD is DIOAlignment for a raw file descriptor.
func DIOAlignmentFD(fd int) (memAlign, offsetAlign uint32, err error) {
	var st unix.Statx_t
	err = ignoringEINTR(func() error {
		return unix.Statx(fd, "", unix.AT_EMPTY_PATH, unix.STATX_TYPE|unix.STATX_DIOALIGN, &st)
	})
	if err != nil {
		return 0, 0, fmt.Errorf("zerocopy: statx(fd %d, STATX_DIOALIGN): %w", fd, err)
	}
	if st.Mask&unix.STATX_DIOALIGN != 0 {
		if st.Dio_mem_align == 0 || st.Dio_offset_align == 0 {
			return 0, 0, ErrNoDirectIO
		}
		return st.Dio_mem_align, st.Dio_offset_align, nil
	}
	return fallbackAlignment(fd, uint32(st.Mode)&unix.S_IFMT)
}

// fallbackAlignment answers when statx gave no DIO alignment; mode is the
// S_IFMT file type bits.
func fallbackAlignment(fd int, mode uint32) (memAlign, offsetAlign uint32, err error) {
	switch mode {
	case unix.S_IFBLK:
		// Before Linux 6.11 statx left STATX_DIOALIGN empty for block
		// devices; their O_DIRECT rule was the logical block size for
		// address, offset and length alike.
		n, err := logicalBlockSize(fd)
		if err != nil {
			return 0, 0, err
		}
		return n, n, nil
	case unix.S_IFREG:
		return FallbackAlign, FallbackAlign, nil
	default:
		return 0, 0, fmt.Errorf("zerocopy: fd %d is neither a regular file nor a block device (file type %#o): O_DIRECT alignment does not apply", fd, mode)
	}
}

// logicalBlockSize is BLKSSZGET: the smallest unit the device addresses.
func logicalBlockSize(fd int) (uint32, error) {
	var n int
	err := ignoringEINTR(func() error {
		var err error
		n, err = unix.IoctlGetInt(fd, unix.BLKSSZGET)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("zerocopy: ioctl(fd %d, BLKSSZGET): %w", fd, err)
	}
	if n <= 0 || n&(n-1) != 0 {
		return 0, fmt.Errorf("zerocopy: fd %d reports logical block size %d, not a positive power of two", fd, n)
	}
	return uint32(n), nil
}

// ignoringEINTR retries fn while it fails with EINTR, which Go's own
// preemption signal (SIGURG) can cause on any slow system call.
func ignoringEINTR(fn func() error) error {
	for {
		err := fn()
		if !errors.Is(err, unix.EINTR) {
			return err
		}
	}
}
