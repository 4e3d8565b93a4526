//go:build linux

package kvm

import (
	"encoding/binary"
	"fmt"
)

// Run mirrors struct kvm_run, the page a vCPU shares with userspace through
// mmap: KVM writes why KVM_RUN returned, userspace answers in place (the
// data of an I/O "in", an MMIO read) before the next KVM_RUN.
//
// Exit is the anonymous exit union (256 bytes at offset 32); read it through
// the typed accessors IO, MMIO, InternalError, FailEntry, SystemEvent.
type Run struct {
	RequestInterruptWindow     uint8
	ImmediateExit              uint8
	Padding1                   [6]uint8
	ExitReason                 uint32
	ReadyForInterruptInjection uint8
	IfFlag                     uint8
	Flags                      uint16
	CR8                        uint64
	APICBase                   uint64
	Exit                       [256]byte
	ValidRegs                  uint64
	DirtyRegs                  uint64
	SyncRegs                   [2048]byte
}

// Exit reasons (kvm_run.exit_reason).
const (
	ExitUnknown       = 0
	ExitException     = 1
	ExitIO            = 2
	ExitHypercall     = 3
	ExitDebug         = 4
	ExitHLT           = 5
	ExitMMIO          = 6
	ExitIRQWindowOpen = 7
	ExitShutdown      = 8
	ExitFailEntry     = 9
	ExitIntr          = 10
	ExitSetTPR        = 11
	ExitTPRAccess     = 12
	ExitNMI           = 16
	ExitInternalError = 17
	ExitSystemEvent   = 24
	ExitIOAPICEOI     = 26
	ExitHyperV        = 27
	ExitX86RDMSR      = 29
	ExitX86WRMSR      = 30
	ExitDirtyRingFull = 31
	ExitAPResetHold   = 32
	ExitX86BusLock    = 33
	ExitXen           = 34
	ExitNotify        = 37
)

var exitNames = map[uint32]string{
	ExitUnknown:       "UNKNOWN",
	ExitException:     "EXCEPTION",
	ExitIO:            "IO",
	ExitHypercall:     "HYPERCALL",
	ExitDebug:         "DEBUG",
	ExitHLT:           "HLT",
	ExitMMIO:          "MMIO",
	ExitIRQWindowOpen: "IRQ_WINDOW_OPEN",
	ExitShutdown:      "SHUTDOWN",
	ExitFailEntry:     "FAIL_ENTRY",
	ExitIntr:          "INTR",
	ExitSetTPR:        "SET_TPR",
	ExitTPRAccess:     "TPR_ACCESS",
	ExitNMI:           "NMI",
	ExitInternalError: "INTERNAL_ERROR",
	ExitSystemEvent:   "SYSTEM_EVENT",
	ExitIOAPICEOI:     "IOAPIC_EOI",
	ExitHyperV:        "HYPERV",
	ExitX86RDMSR:      "X86_RDMSR",
	ExitX86WRMSR:      "X86_WRMSR",
	ExitDirtyRingFull: "DIRTY_RING_FULL",
	ExitAPResetHold:   "AP_RESET_HOLD",
	ExitX86BusLock:    "X86_BUS_LOCK",
	ExitXen:           "XEN",
	ExitNotify:        "NOTIFY",
}

// ExitReasonName names an exit reason the way the kernel header does
// (KVM_EXIT_<name>), for logs and error messages.
func ExitReasonName(r uint32) string {
	if n, ok := exitNames[r]; ok {
		return "KVM_EXIT_" + n
	}
	return fmt.Sprintf("KVM_EXIT_%d", r)
}

// I/O exit directions (kvm_run.io.direction).
const (
	IODirectionIn  = 0
	IODirectionOut = 1
)

// Internal error suberrors (kvm_run.internal.suberror).
const (
	InternalErrorEmulation            = 1
	InternalErrorSimulEx              = 2
	InternalErrorDeliveryEv           = 3
	InternalErrorUnexpectedExitReason = 4
)

// System event types (kvm_run.system_event.type).
const (
	SystemEventShutdown = 1
	SystemEventReset    = 2
	SystemEventCrash    = 3
	SystemEventWakeup   = 4
	SystemEventSuspend  = 5
)

// Offsets inside the exit union, from the kernel header.
const (
	unionIODataOffset   = 8  // io.data_offset
	unionMMIOData       = 8  // mmio.data
	unionMMIOLen        = 16 // mmio.len
	unionMMIOIsWrite    = 20 // mmio.is_write
	unionInternalNData  = 4  // internal.ndata
	unionInternalData   = 8  // internal.data
	maxInternalData     = 16 // len(internal.data)
	unionFailEntryCPU   = 8  // fail_entry.cpu
	unionSystemEventArg = 8  // system_event.flags / data[0]
)

var le = binary.LittleEndian

// IO decodes the KVM_EXIT_IO part of the exit union. The data is count
// items of size bytes at dataOffset from the start of the kvm_run mapping;
// VCPU.IOData returns it as a checked slice.
func (r *Run) IO() (direction uint8, size uint8, port uint16, count uint32, dataOffset uint64) {
	u := r.Exit[:]
	return u[0], u[1], le.Uint16(u[2:]), le.Uint32(u[4:]), le.Uint64(u[unionIODataOffset:])
}

// MMIO decodes the KVM_EXIT_MMIO part of the exit union. data points into
// kvm_run: for a read, fill its first length bytes before the next KVM_RUN.
// length is clamped to 8 so data[:length] never panics.
func (r *Run) MMIO() (physAddr uint64, data *[8]byte, length uint32, isWrite bool) {
	u := r.Exit[:]
	length = le.Uint32(u[unionMMIOLen:])
	if length > 8 {
		length = 8
	}
	return le.Uint64(u), (*[8]byte)(u[unionMMIOData : unionMMIOData+8]), length, u[unionMMIOIsWrite] != 0
}

// InternalError decodes KVM_EXIT_INTERNAL_ERROR: the suberror and its
// ndata words (ndata is clamped to the 16 the union holds).
func (r *Run) InternalError() (suberror uint32, data []uint64) {
	u := r.Exit[:]
	n := le.Uint32(u[unionInternalNData:])
	if n > maxInternalData {
		n = maxInternalData
	}
	data = make([]uint64, n)
	for i := range data {
		data[i] = le.Uint64(u[unionInternalData+8*i:])
	}
	return le.Uint32(u), data
}

// FailEntry decodes KVM_EXIT_FAIL_ENTRY: the hardware entry failure reason
// and the host CPU it happened on.
func (r *Run) FailEntry() (reason uint64, cpu uint32) {
	u := r.Exit[:]
	return le.Uint64(u), le.Uint32(u[unionFailEntryCPU:])
}

// SystemEvent decodes KVM_EXIT_SYSTEM_EVENT: the event type (SystemEvent*)
// and its first data word (the legacy flags field).
func (r *Run) SystemEvent() (typ uint32, flags uint64) {
	u := r.Exit[:]
	return le.Uint32(u), le.Uint64(u[unionSystemEventArg:])
}

// Exception decodes KVM_EXIT_EXCEPTION: the vector and error code.
func (r *Run) Exception() (vector uint32, errorCode uint32) {
	u := r.Exit[:]
	return le.Uint32(u), le.Uint32(u[4:])
}

// HardwareExitReason decodes KVM_EXIT_UNKNOWN's hardware exit reason.
func (r *Run) HardwareExitReason() uint64 {
	return le.Uint64(r.Exit[:])
}
