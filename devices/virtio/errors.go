package virtio

import "errors"

// Driver errors the queue and chain reader detect. Each is a protocol
// violation that the device answers with DEVICE_NEEDS_RESET; they are
// sentinels so that the device can count them by kind.
var (
	ErrAvailIndex       = errors.New("available index moved by more than the queue size")
	ErrHeadIndex        = errors.New("descriptor head index out of range")
	ErrHeadInFlight     = errors.New("descriptor head already in flight")
	ErrNextIndex        = errors.New("descriptor next index out of range")
	ErrChainTooLong     = errors.New("descriptor chain longer than the queue (a loop?)")
	ErrIndirectNotOK    = errors.New("indirect descriptor without VIRTIO_F_INDIRECT_DESC")
	ErrIndirectLength   = errors.New("indirect table length not a non-zero multiple of 16 within the queue size")
	ErrIndirectNested   = errors.New("indirect descriptor inside an indirect table")
	ErrIndirectWithNext = errors.New("indirect descriptor with VIRTQ_DESC_F_NEXT")
	ErrDescriptorMemory = errors.New("descriptor buffer outside guest RAM")
	ErrQueueLayout      = errors.New("virtqueue rings misplaced")
	ErrQueueSize        = errors.New("virtqueue size not a power of two within the maximum")

	// Register writes the transport refuses (4.2.3, 3.1.1).
	ErrLiveQueueWrite = errors.New("queue register written while the device is live or the queue ready")
	ErrFeaturesWrite  = errors.New("driver features written outside feature negotiation")
	ErrStatusCleared  = errors.New("status bits cleared without a reset")
	ErrDriverOKEarly  = errors.New("DRIVER_OK without FEATURES_OK")
)
