//go:build linux

package sandbox

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"syscall"

	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"
	"kernel.org/pub/linux/libs/security/libcap/psx"
)

// NofileMargin is how many file descriptors DropPrivileges leaves free
// above those open: the API server's 64 concurrent connections
// (api.maxConns, each an accept4) plus 16 for the rest (the Go runtime's
// poller; a disk image replaced through the API, where that is allowed).
// Past it accept4 fails with EMFILE and the HTTP server retries later.
const NofileMargin = 64 + 16

// ErrAllThreads is returned when a per-thread setting cannot be applied
// to every thread at once.
var ErrAllThreads = errors.New("cannot apply a setting to every thread")

// DropPrivileges leaves the process with nothing a hijacked VMM could
// use to gain more: call it once the VM is built (/dev/kvm, disks,
// console and sockets open), before the first KVM_RUN and before
// RestrictFiles and the seccomp filter. uid and gid, when not -1, are
// what a VMM started as root becomes; -1 keeps the current id.
//
// In order: every open fd is made close-on-exec; RLIMIT_NOFILE is
// lowered to what is open plus NofileMargin and RLIMIT_CORE to 0; the
// capability bounding set is emptied (while CAP_SETPCAP still allows it);
// supplementary groups, gid and uid are changed; the permitted,
// effective, inheritable and ambient sets are emptied; no_new_privs is
// set; the process is made non-dumpable. Capabilities and no_new_privs
// are per thread, so they are applied on every thread at once (psx: the
// runtime's AllThreadsSyscall in a cgo-free binary, libpsx with cgo), and
// read back from every thread before it returns.
func DropPrivileges(uid, gid int) error {
	if err := closeOnExecAll(); err != nil {
		return err
	}
	if err := limitResources(); err != nil {
		return err
	}
	if err := DropBoundingSet(); err != nil {
		return err
	}
	if err := changeIDs(uid, gid); err != nil {
		return err
	}
	// This also empties the ambient set: the kernel keeps in it only
	// what is both permitted and inheritable.
	if err := allThreadsCapsetZero(); err != nil {
		return fmt.Errorf("dropping every capability: %w", err)
	}
	if err := allThreadsPrctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0); err != nil {
		return fmt.Errorf("setting no_new_privs: %w", err)
	}
	// After the id change: changing uid resets dumpable to the
	// fs.suid_dumpable sysctl.
	if err := unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0); err != nil {
		return fmt.Errorf("making the process non-dumpable: %w", err)
	}
	s, err := ReadState()
	if err != nil {
		return err
	}
	if s.CapPrm|s.CapEff|s.CapInh|s.CapAmb != 0 || !s.NoNewPrivs {
		return fmt.Errorf("%w: after the drop a thread still has a capability or lacks no_new_privs (%s)", ErrAllThreads, s)
	}
	return nil
}

// closeOnExecAll walks /proc/self/fd and sets FD_CLOEXEC on every fd that
// lacks it, rather than failing: such an fd was inherited from whatever
// started vmm (vmm opens everything O_CLOEXEC), and vmm cannot know whether
// it is needed, only that no program it might run should get it.
func closeOnExecAll() error {
	fds, err := openFDs()
	if err != nil {
		return err
	}
	for _, fd := range fds {
		flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
		if err != nil {
			continue // closed since the walk
		}
		if flags&unix.FD_CLOEXEC != 0 {
			continue
		}
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETFD, flags|unix.FD_CLOEXEC); err != nil {
			return fmt.Errorf("marking fd %d close-on-exec: %w", fd, err)
		}
		target, _ := os.Readlink("/proc/self/fd/" + strconv.Itoa(fd))
		logrus.WithFields(logrus.Fields{"fd": fd, "file": target}).Debug("sandbox: inherited fd made close-on-exec")
	}
	return nil
}

// openFDs lists the open file descriptors, without the one used to list them.
func openFDs() ([]int, error) {
	dir, err := os.Open("/proc/self/fd")
	if err != nil {
		return nil, fmt.Errorf("listing open files: %w (is /proc mounted?)", err)
	}
	defer dir.Close()
	names, err := dir.Readdirnames(-1)
	if err != nil {
		return nil, fmt.Errorf("listing open files: %w", err)
	}
	self := int(dir.Fd())
	fds := make([]int, 0, len(names))
	for _, n := range names {
		fd, err := strconv.Atoi(n)
		if err != nil || fd == self {
			continue
		}
		fds = append(fds, fd)
	}
	return fds, nil
}

// limitResources lowers RLIMIT_NOFILE to the fds open plus NofileMargin
// (soft and hard: a hijacked process cannot raise it back) and RLIMIT_CORE
// to 0, so guest memory never lands in a core file.
func limitResources() error {
	fds, err := openFDs()
	if err != nil {
		return err
	}
	var old unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &old); err != nil {
		return fmt.Errorf("reading RLIMIT_NOFILE: %w", err)
	}
	// Allocation takes the lowest free number, so count+margin leaves
	// at least margin numbers free below the limit.
	n := uint64(len(fds)) + NofileMargin
	if n > old.Max {
		n = old.Max
	}
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &unix.Rlimit{Cur: n, Max: n}); err != nil {
		return fmt.Errorf("lowering RLIMIT_NOFILE to %d: %w", n, err)
	}
	if err := unix.Setrlimit(unix.RLIMIT_CORE, &unix.Rlimit{}); err != nil {
		return fmt.Errorf("setting RLIMIT_CORE to 0: %w", err)
	}
	return nil
}

// DropBoundingSet removes every capability from the bounding set on every
// thread. That needs CAP_SETPCAP; a VMM started without it (not as root)
// keeps its bounding set, which then grants nothing: no_new_privs stops
// execve from gaining capabilities, the only way the set is used.
//
// DropPrivileges calls it; it costs one all-thread system call per
// capability (2-4 ms for root here, more with more threads). Emptying the
// bounding set takes nothing the process holds, so vmm run can call it
// at start, before the VM is built, and DropPrivileges then finds nothing
// left to drop.
func DropBoundingSet() error {
	for c := 0; ; c++ {
		in, err := unix.PrctlRetInt(unix.PR_CAPBSET_READ, uintptr(c), 0, 0, 0)
		if errors.Is(err, unix.EINVAL) {
			return nil // past the kernel's last capability
		}
		if err != nil {
			return fmt.Errorf("reading the capability bounding set: %w", err)
		}
		if in == 0 {
			continue
		}
		err = allThreadsPrctl(unix.PR_CAPBSET_DROP, uintptr(c), 0)
		if errors.Is(err, unix.EPERM) && c == 0 {
			// EPERM on the first one: no CAP_SETPCAP at all.
			logrus.Debug("sandbox: capability bounding set kept: dropping it needs CAP_SETPCAP")
			return nil
		}
		if err != nil {
			return fmt.Errorf("dropping capability %d from the bounding set: %w", c, err)
		}
	}
}

// changeIDs clears the supplementary groups and sets gid then uid (real,
// effective and saved). Go's syscall functions for these apply to every
// thread, with or without cgo.
func changeIDs(uid, gid int) error {
	if uid < 0 && gid < 0 {
		return nil
	}
	needRoot := func(what string, err error) error {
		if errors.Is(err, unix.EPERM) {
			return fmt.Errorf("%s: %w: --uid/--gid need vmm to start as root (it runs as uid %d); drop them or start as root", what, err, os.Geteuid())
		}
		return fmt.Errorf("%s: %w", what, err)
	}
	if err := syscall.Setgroups(nil); err != nil {
		return needRoot("clearing the supplementary groups", err)
	}
	if gid >= 0 {
		if err := syscall.Setresgid(gid, gid, gid); err != nil {
			return needRoot(fmt.Sprintf("changing to gid %d", gid), err)
		}
	}
	if uid >= 0 {
		if err := syscall.Setresuid(uid, uid, uid); err != nil {
			return needRoot(fmt.Sprintf("changing to uid %d", uid), err)
		}
	}
	return nil
}

// allThreadsPrctl runs prctl(option, a2, a3, 0, 0) on every thread.
func allThreadsPrctl(option int, a2, a3 uintptr) error {
	_, _, errno := psx.Syscall6(unix.SYS_PRCTL, uintptr(option), a2, a3, 0, 0, 0)
	return errnoErr(errno)
}

func errnoErr(errno syscall.Errno) error {
	switch errno {
	case 0:
		return nil
	case unix.ENOTSUP:
		// syscall.AllThreadsSyscall's answer in a binary with cgo.
		return fmt.Errorf("%w: %w (vmm must be built with CGO_ENABLED=0)", ErrAllThreads, errno)
	}
	return errno
}
