//go:build linux

package iouring

// SQRingOffsets is struct io_sqring_offsets: where each field of the SQ ring
// sits inside its mmap.
type SQRingOffsets struct {
	Head        uint32
	Tail        uint32
	RingMask    uint32
	RingEntries uint32
	Flags       uint32
	Dropped     uint32
	Array       uint32
	Resv1       uint32
	UserAddr    uint64
}

// CQRingOffsets is struct io_cqring_offsets.
type CQRingOffsets struct {
	Head        uint32
	Tail        uint32
	RingMask    uint32
	RingEntries uint32
	Overflow    uint32
	CQEs        uint32
	Flags       uint32
	Resv1       uint32
	UserAddr    uint64
}

// Params is struct io_uring_params. Callers set Flags (Setup* constants) and
// optionally CQEntries; the kernel fills in the rest.
type Params struct {
	SQEntries    uint32
	CQEntries    uint32 // with SetupCQSize (Setup adds it when non-zero)
	Flags        uint32
	SQThreadCPU  uint32
	SQThreadIdle uint32
	Features     uint32 // IORING_FEAT_* bits the kernel offers
	WQFd         uint32
	Resv         [3]uint32
	SQOff        SQRingOffsets
	CQOff        CQRingOffsets
}
