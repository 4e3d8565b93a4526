package virtio

// virtio-mmio register offsets (virtio 1.2, 4.2.2 "MMIO Device Register Layout").
const (
	regMagic             = 0x000
	regVersion           = 0x004
	regDeviceID          = 0x008
	regVendorID          = 0x00c
	regDeviceFeatures    = 0x010
	regDeviceFeaturesSel = 0x014
	regDriverFeatures    = 0x020
	regDriverFeaturesSel = 0x024
	regQueueSel          = 0x030
	regQueueNumMax       = 0x034
	regQueueNum          = 0x038
	regQueueReady        = 0x044
	regQueueNotify       = 0x050
	regInterruptStatus   = 0x060
	regInterruptACK      = 0x064
	regStatus            = 0x070
	regQueueDescLow      = 0x080
	regQueueDescHigh     = 0x084
	regQueueDriverLow    = 0x090
	regQueueDriverHigh   = 0x094
	regQueueDeviceLow    = 0x0a0
	regQueueDeviceHigh   = 0x0a4
	regConfigGeneration  = 0x0fc
	regConfig            = 0x100

	// NotifyOffset is QueueNotify's offset, where the VMM places one
	// ioeventfd per queue (datamatch = queue index).
	NotifyOffset = regQueueNotify

	// MMIOSize is the size of one device's register window (one page).
	MMIOSize = 0x1000

	mmioMagic   = 0x74726976 // "virt"
	mmioVersion = 2
	// VendorID is "VMMG" read as a little-endian word.
	VendorID = 0x474d4d56
)

// Device status bits (2.1 "Device Status Field").
const (
	StatusAcknowledge      = 1
	StatusDriver           = 2
	StatusDriverOK         = 4
	StatusFeaturesOK       = 8
	StatusDeviceNeedsReset = 64
	StatusFailed           = 128
)

// Interrupt status bits (4.2.2, InterruptStatus).
const (
	InterruptUsedBuffer    = 1
	InterruptConfigChanged = 2
)

// Transport and ring feature bits (6 "Reserved Feature Bits").
const (
	FeatureIndirectDesc = 1 << 28
	FeatureEventIdx     = 1 << 29
	FeatureVersion1     = 1 << 32
)

// Descriptor flags (2.7.5 "The Virtqueue Descriptor Table").
const (
	descNext     = 1
	descWrite    = 2
	descIndirect = 4
	descSize     = 16
)

// Ring flags.
const (
	availNoInterrupt = 1 // VIRTQ_AVAIL_F_NO_INTERRUPT
	usedNoNotify     = 1 // VIRTQ_USED_F_NO_NOTIFY
)

// MaxQueueSize is the largest split-virtqueue size (2.7 "Split Virtqueues").
const MaxQueueSize = 32768
