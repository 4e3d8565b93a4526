//go:build linux

package iouring

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// ErrClosed is returned by methods of a Ring after Close.
var ErrClosed = errors.New("iouring: ring is closed")

// MaxEntries is the kernel's limit on SQ entries (IORING_MAX_ENTRIES).
const MaxEntries = 32768

// Ring is one io_uring instance: its fd and the three shared mappings.
type Ring struct {
	fd     int
	params Params

	// Mappings. cqMem aliases sqMem when the kernel offers
	// IORING_FEAT_SINGLE_MMAP.
	sqMem      []byte
	cqMem      []byte
	sqeMem     []byte
	singleMmap bool

	sq submissionQueue
	cq completionQueue
}

// submissionQueue holds pointers into the SQ ring and the submitter's
// private bookkeeping.
type submissionQueue struct {
	head    *uint32 // written by the kernel
	tail    *uint32 // written by us
	flags   *uint32 // IORING_SQ_* flags, written by the kernel
	dropped *uint32
	mask    uint32
	entries uint32
	sqes    []SQE

	// sqeTail counts SQEs handed out by GetSQE; sqeHead counts those
	// published to the kernel by moving *tail. Both are private.
	sqeTail uint32
	sqeHead uint32
}

// completionQueue holds pointers into the CQ ring.
type completionQueue struct {
	head     *uint32 // written by us
	tail     *uint32 // written by the kernel
	overflow *uint32 // CQEs the kernel could not post (should stay 0 with NODROP)
	mask     uint32
	entries  uint32
	cqes     []CQE
}

// QueueInit creates a ring with entries SQ slots and the given setup flags,
// like liburing's io_uring_queue_init.
func QueueInit(entries uint32, flags uint32) (*Ring, error) {
	return Setup(entries, &Params{Flags: flags})
}

// Setup creates a ring with entries SQ slots (a power of two is not needed:
// the kernel rounds up). p may be nil; when p.CQEntries is non-zero
// SetupCQSize is added. On return p holds what the kernel filled in.
//
// Setup requires IORING_FEAT_NODROP (completions are never lost when the CQ
// overflows) and IORING_FEAT_SUBMIT_STABLE (see the package doc), both
// present since Linux 5.5. Errors from the kernel wrap the errno, so
// errors.Is(err, unix.EPERM) works.
func Setup(entries uint32, p *Params) (*Ring, error) {
	if p == nil {
		p = &Params{}
	}
	if entries == 0 || entries > MaxEntries {
		return nil, fmt.Errorf("iouring: setup: %d entries: want 1..%d", entries, MaxEntries)
	}
	if p.Flags&unsupportedSetup != 0 {
		return nil, fmt.Errorf("iouring: setup: flags %#x not supported by this binding (SQPOLL, SQE128, CQE32, NO_MMAP, NO_SQARRAY, REGISTERED_FD_ONLY); drop them", p.Flags&unsupportedSetup)
	}
	if p.CQEntries != 0 {
		p.Flags |= SetupCQSize
	}
	fd, err := sysSetup(entries, p)
	if err != nil {
		return nil, setupError(entries, p.Flags, err)
	}
	const need = FeatNoDrop | FeatSubmitStable
	if p.Features&need != need {
		unix.Close(fd)
		return nil, fmt.Errorf("iouring: setup: kernel lacks IORING_FEAT_NODROP/SUBMIT_STABLE (features %#x): completions could be lost; need Linux 5.5 or newer", p.Features)
	}
	r := &Ring{fd: fd, params: *p}
	if err := r.mapRings(); err != nil {
		r.Close()
		return nil, err
	}
	*p = r.params
	return r, nil
}

// setupError names the errno and the usual cause.
func setupError(entries, flags uint32, err error) error {
	hint := ""
	switch {
	case errors.Is(err, unix.ENOSYS):
		hint = ": kernel built without io_uring (CONFIG_IO_URING)"
	case errors.Is(err, unix.EPERM):
		hint = ": io_uring is forbidden here: check /proc/sys/kernel/io_uring_disabled; if that is 0, a seccomp filter (container runtime) blocks it"
	case errors.Is(err, unix.ENOMEM):
		hint = ": not enough lockable memory for the rings: raise RLIMIT_MEMLOCK (ulimit -l) or use fewer entries"
	case errors.Is(err, unix.EINVAL):
		hint = ": kernel rejected the parameters (entries too large, or a flag this kernel does not know)"
	}
	return fmt.Errorf("iouring: io_uring_setup(entries=%d, flags=%#x): %w%s", entries, flags, err, hint)
}

// Fd returns the ring's file descriptor (-1 after Close).
func (r *Ring) Fd() int { return r.fd }

// Params returns the parameters the kernel filled in at setup.
func (r *Ring) Params() Params { return r.params }

// Features returns the IORING_FEAT_* bits the kernel offered.
func (r *Ring) Features() uint32 { return r.params.Features }

// SQEntries is the number of SQ slots; CQEntries the number of CQ slots.
func (r *Ring) SQEntries() uint32 { return r.sq.entries }

// CQEntries returns the number of CQ slots.
func (r *Ring) CQEntries() uint32 { return r.cq.entries }

// Close unmaps the rings and closes the fd. It is idempotent; after it every
// method returns ErrClosed (or nil/false). In-flight requests are cancelled
// by the kernel; their buffers must stay valid until Close returns.
func (r *Ring) Close() error {
	if r.fd < 0 {
		return nil
	}
	var errs []error
	maps := [][]byte{r.sqeMem, r.sqMem}
	if !r.singleMmap {
		maps = append(maps, r.cqMem)
	}
	for _, m := range maps {
		if m == nil {
			continue
		}
		if err := unix.Munmap(m); err != nil {
			errs = append(errs, fmt.Errorf("iouring: munmap: %w", err))
		}
	}
	r.sqeMem, r.cqMem, r.sqMem = nil, nil, nil
	r.sq = submissionQueue{}
	r.cq = completionQueue{}
	if err := unix.Close(r.fd); err != nil {
		errs = append(errs, fmt.Errorf("iouring: close ring fd: %w", err))
	}
	r.fd = -1
	return errors.Join(errs...)
}
