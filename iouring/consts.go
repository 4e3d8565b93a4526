//go:build linux

package iouring

import "strconv"

// io_uring_setup flags (IORING_SETUP_*).
const (
	SetupIOPoll           uint32 = 1 << 0
	SetupSQPoll           uint32 = 1 << 1
	SetupSQAff            uint32 = 1 << 2
	SetupCQSize           uint32 = 1 << 3
	SetupClamp            uint32 = 1 << 4
	SetupAttachWQ         uint32 = 1 << 5
	SetupRDisabled        uint32 = 1 << 6
	SetupSubmitAll        uint32 = 1 << 7
	SetupCoopTaskrun      uint32 = 1 << 8
	SetupTaskrunFlag      uint32 = 1 << 9
	SetupSQE128           uint32 = 1 << 10
	SetupCQE32            uint32 = 1 << 11
	SetupSingleIssuer     uint32 = 1 << 12
	SetupDeferTaskrun     uint32 = 1 << 13
	SetupNoMmap           uint32 = 1 << 14
	SetupRegisteredFdOnly uint32 = 1 << 15
	SetupNoSQArray        uint32 = 1 << 16
)

// unsupportedSetup are setup flags this binding does not implement: they
// change the SQE/CQE size, the mmap scheme or who submits.
const unsupportedSetup = SetupSQPoll | SetupSQAff | SetupSQE128 | SetupCQE32 |
	SetupNoMmap | SetupRegisteredFdOnly | SetupNoSQArray

// Features the kernel reports in Params.Features (IORING_FEAT_*).
const (
	FeatSingleMmap     uint32 = 1 << 0
	FeatNoDrop         uint32 = 1 << 1
	FeatSubmitStable   uint32 = 1 << 2
	FeatRWCurPos       uint32 = 1 << 3
	FeatCurPersonality uint32 = 1 << 4
	FeatFastPoll       uint32 = 1 << 5
	FeatPoll32Bits     uint32 = 1 << 6
	FeatSQPollNonfixed uint32 = 1 << 7
	FeatExtArg         uint32 = 1 << 8
	FeatNativeWorkers  uint32 = 1 << 9
	FeatRsrcTags       uint32 = 1 << 10
	FeatCQESkip        uint32 = 1 << 11
	FeatLinkedFile     uint32 = 1 << 12
	FeatRegRegRing     uint32 = 1 << 13
	FeatRecvSendBundle uint32 = 1 << 14
	FeatMinTimeout     uint32 = 1 << 15
	FeatRWAttr         uint32 = 1 << 16
	FeatNoIOWait       uint32 = 1 << 17
)

var featNames = []string{
	"SINGLE_MMAP", "NODROP", "SUBMIT_STABLE", "RW_CUR_POS", "CUR_PERSONALITY",
	"FAST_POLL", "POLL_32BITS", "SQPOLL_NONFIXED", "EXT_ARG", "NATIVE_WORKERS",
	"RSRC_TAGS", "CQE_SKIP", "LINKED_FILE", "REG_REG_RING", "RECVSEND_BUNDLE",
	"MIN_TIMEOUT", "RW_ATTR", "NO_IOWAIT",
}

// FeatureNames lists the names of the IORING_FEAT_* bits set in feat, for
// diagnostics; unknown bits are shown as "FEAT_<bit>".
func FeatureNames(feat uint32) []string {
	var out []string
	for bit := 0; bit < 32; bit++ {
		if feat&(1<<bit) == 0 {
			continue
		}
		if bit < len(featNames) {
			out = append(out, featNames[bit])
		} else {
			out = append(out, "FEAT_"+strconv.Itoa(bit))
		}
	}
	return out
}

// SQE flags (IOSQE_*).
const (
	SQEFixedFile      uint8 = 1 << 0
	SQEIODrain        uint8 = 1 << 1
	SQEIOLink         uint8 = 1 << 2
	SQEIOHardlink     uint8 = 1 << 3
	SQEAsync          uint8 = 1 << 4
	SQEBufferSelect   uint8 = 1 << 5
	SQECQESkipSuccess uint8 = 1 << 6
)

// FsyncDatasync makes PrepFsync an fdatasync (IORING_FSYNC_DATASYNC).
const FsyncDatasync uint32 = 1 << 0

// io_uring_enter flags (IORING_ENTER_*).
const (
	EnterGetEvents      uint32 = 1 << 0
	EnterSQWakeup       uint32 = 1 << 1
	EnterSQWait         uint32 = 1 << 2
	EnterExtArg         uint32 = 1 << 3
	EnterRegisteredRing uint32 = 1 << 4
)

// SQ ring flags the kernel sets (IORING_SQ_*).
const (
	SQNeedWakeup uint32 = 1 << 0
	SQCQOverflow uint32 = 1 << 1
	SQTaskrun    uint32 = 1 << 2
)

// mmap offsets of the three regions (IORING_OFF_*).
const (
	offSQRing int64 = 0
	offCQRing int64 = 0x8000000
	offSQEs   int64 = 0x10000000
)

// io_uring_register opcodes (IORING_REGISTER_*).
const (
	RegisterBuffers       uint32 = 0
	UnregisterBuffers     uint32 = 1
	RegisterFiles         uint32 = 2
	UnregisterFiles       uint32 = 3
	RegisterEventfd       uint32 = 4
	UnregisterEventfd     uint32 = 5
	RegisterFilesUpdate   uint32 = 6
	RegisterEventfdAsync  uint32 = 7
	RegisterProbe         uint32 = 8
	RegisterPersonality   uint32 = 9
	UnregisterPersonality uint32 = 10
	RegisterRestrictions  uint32 = 11
	RegisterEnableRings   uint32 = 12
)
