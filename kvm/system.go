//go:build linux

package kvm

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// DefaultDevice is where the KVM system device lives.
const DefaultDevice = "/dev/kvm"

// APIVersion12 is the only stable KVM API version; anything else means the
// kernel interface is not what this package speaks.
const APIVersion12 = 12

// System is an open /dev/kvm: the handle for system-wide queries and for
// creating VMs.
type System struct {
	descriptor
}

// The KVM device's character-device numbers (Documentation/admin-guide/devices.txt: misc 232).
const (
	DeviceMajor = 10
	DeviceMinor = 232
)

// ErrNotKVM is returned by Open for a path that is not the KVM device.
var ErrNotKVM = errors.New("not the KVM device")

// Open opens the KVM device at path read/write. It first checks that path
// is the KVM character device (10:232): opening an arbitrary device can
// have effects of its own (a watchdog arms on open), and any other node
// would fail later with a puzzling "inappropriate ioctl". Errors wrap
// ErrNotKVM or the errno (errors.Is(err, unix.EACCES) tells a permission
// problem apart).
func Open(path string) (*System, error) {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return nil, fmt.Errorf("kvm: %s: %w", path, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFCHR || unix.Major(st.Rdev) != DeviceMajor || unix.Minor(st.Rdev) != DeviceMinor {
		return nil, fmt.Errorf("kvm: %s is %s, %w (character device %d:%d, normally %s)", path, describeNode(&st), ErrNotKVM, DeviceMajor, DeviceMinor, DefaultDevice)
	}
	flags := unix.O_RDWR | unix.O_CLOEXEC | unix.O_NOCTTY
	fd, err := unix.Open(path, flags, 0)
	for err == unix.EINTR {
		fd, err = unix.Open(path, flags, 0)
	}
	if err != nil {
		return nil, fmt.Errorf("kvm: open %s: %w", path, err)
	}
	return &System{descriptor{fd: fd}}, nil
}

// describeNode names what a stat result is, for ErrNotKVM messages.
func describeNode(st *unix.Stat_t) string {
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFCHR:
		return fmt.Sprintf("character device %d:%d", unix.Major(st.Rdev), unix.Minor(st.Rdev))
	case unix.S_IFBLK:
		return fmt.Sprintf("block device %d:%d", unix.Major(st.Rdev), unix.Minor(st.Rdev))
	case unix.S_IFREG:
		return "a regular file"
	case unix.S_IFDIR:
		return "a directory"
	case unix.S_IFIFO:
		return "a named pipe"
	case unix.S_IFSOCK:
		return "a socket"
	}
	return "not a device"
}

// Close closes the device. VMs created from it stay usable.
func (s *System) Close() error { return s.close(nil) }

// APIVersion returns KVM_GET_API_VERSION; it must be 12.
func (s *System) APIVersion() (int, error) {
	r, e := ioctlVal(s.Fd(), kvmGetAPIVersion, 0)
	if e != 0 {
		return 0, wrap("KVM_GET_API_VERSION", e)
	}
	return int(r), nil
}

// CheckExtension returns KVM_CHECK_EXTENSION for c: 0 when unsupported,
// otherwise 1 or a capability-specific number (e.g. max vCPUs).
func (s *System) CheckExtension(c Cap) (int, error) {
	return checkExtension(s.Fd(), c)
}

func checkExtension(fd int, c Cap) (int, error) {
	r, e := ioctlVal(fd, kvmCheckExtension, uintptr(c))
	if e != 0 {
		return 0, wrap("KVM_CHECK_EXTENSION("+c.String()+")", e)
	}
	return int(r), nil
}

// VCPUMmapSize returns the size of the kvm_run mapping of each vCPU (the
// run struct plus the PIO data page and any coalesced-MMIO ring).
func (s *System) VCPUMmapSize() (int, error) {
	r, e := ioctlVal(s.Fd(), kvmGetVCPUMmapSize, 0)
	if e != 0 {
		return 0, wrap("KVM_GET_VCPU_MMAP_SIZE", e)
	}
	return int(r), nil
}

// maxCPUIDEntries bounds the KVM_GET_SUPPORTED_CPUID buffer growth; the
// kernel's own limit (KVM_MAX_CPUID_ENTRIES) is 256.
const maxCPUIDEntries = 4096

// kvmMaxCPUIDEntries is KVM_MAX_CPUID_ENTRIES (arch/x86/include/asm/kvm_host.h),
// the most any kernel so far returns.
const kvmMaxCPUIDEntries = 256

// SupportedCPUID returns KVM_GET_SUPPORTED_CPUID: the CPUID leaves KVM can
// present to a guest, a starting point for VCPU.SetCPUID2.
func (s *System) SupportedCPUID() ([]CPUIDEntry2, error) {
	return getCPUID(s.Fd(), kvmGetSupportedCPUID, "KVM_GET_SUPPORTED_CPUID")
}

// getCPUID runs a kvm_cpuid2-returning ioctl, growing the buffer on E2BIG.
// It starts at KVM's own limit: the kernel builds the whole list before it
// finds a buffer too small, and on kvm_pvm that costs 0.7-0.9 ms a call
// (a host with 76 leaves paid it twice when this started at 64).
func getCPUID(fd int, req uintptr, op string) ([]CPUIDEntry2, error) {
	for n := kvmMaxCPUIDEntries; ; n *= 2 {
		buf := make([]uint32, 2+n*cpuidEntryWords)
		buf[0] = uint32(n)
		_, e := ioctlPtr(fd, req, &buf[0])
		if e == unix.E2BIG && n < maxCPUIDEntries {
			continue
		}
		if e != 0 {
			return nil, wrap(op, e)
		}
		return decodeCPUID(buf[2:], int(buf[0])), nil
	}
}

// MSRIndexList returns KVM_GET_MSR_INDEX_LIST: the MSRs KVM saves and
// restores for a vCPU.
func (s *System) MSRIndexList() ([]uint32, error) {
	fd := s.Fd()
	n := uint32(0)
	for tries := 0; tries < 4; tries++ {
		buf := make([]uint32, 1+n)
		buf[0] = n
		_, e := ioctlPtr(fd, kvmGetMSRIndexList, &buf[0])
		if e == unix.E2BIG && buf[0] > n {
			n = buf[0] // the kernel wrote back how many it has
			continue
		}
		if e != 0 {
			return nil, wrap("KVM_GET_MSR_INDEX_LIST", e)
		}
		return buf[1 : 1+buf[0]], nil
	}
	return nil, wrap("KVM_GET_MSR_INDEX_LIST", unix.E2BIG)
}

// CreateVM returns a new VM (KVM_CREATE_VM, machine type 0).
func (s *System) CreateVM() (*VM, error) {
	mmapSize, err := s.VCPUMmapSize()
	if err != nil {
		return nil, err
	}
	r, e := ioctlVal(s.Fd(), kvmCreateVM, 0)
	if e != 0 {
		return nil, wrap("KVM_CREATE_VM", e)
	}
	return &VM{descriptor: descriptor{fd: int(r)}, runSize: mmapSize}, nil
}
