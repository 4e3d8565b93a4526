//go:build linux

package iouring

import "strconv"

// Opcodes (enum io_uring_op in include/uapi/linux/io_uring.h). Which ones a
// kernel supports is learnt with ProbeOpcodes, never assumed.
const (
	OpNop uint8 = iota
	OpReadv
	OpWritev
	OpFsync
	OpReadFixed
	OpWriteFixed
	OpPollAdd
	OpPollRemove
	OpSyncFileRange
	OpSendmsg
	OpRecvmsg
	OpTimeout
	OpTimeoutRemove
	OpAccept
	OpAsyncCancel
	OpLinkTimeout
	OpConnect
	OpFallocate
	OpOpenat
	OpClose
	OpFilesUpdate
	OpStatx
	OpRead
	OpWrite
	OpFadvise
	OpMadvise
	OpSend
	OpRecv
	OpOpenat2
	OpEpollCtl
	OpSplice
	OpProvideBuffers
	OpRemoveBuffers
	OpTee
	OpShutdown
	OpRenameat
	OpUnlinkat
	OpMkdirat
	OpSymlinkat
	OpLinkat
	OpMsgRing
	OpFsetxattr
	OpSetxattr
	OpFgetxattr
	OpGetxattr
	OpSocket
	OpUringCmd
	OpSendZC
	OpSendmsgZC
	OpReadMultishot
	OpWaitid
	OpFutexWait
	OpFutexWake
	OpFutexWaitv
	OpFixedFdInstall
	OpFtruncate
	OpBind
	OpListen
	OpRecvZC
	OpEpollWait
	OpReadvFixed
	OpWritevFixed
	OpPipe

	// opKnown is one past the last opcode this package has a name for.
	opKnown
)

var opNames = [opKnown]string{
	OpNop:            "NOP",
	OpReadv:          "READV",
	OpWritev:         "WRITEV",
	OpFsync:          "FSYNC",
	OpReadFixed:      "READ_FIXED",
	OpWriteFixed:     "WRITE_FIXED",
	OpPollAdd:        "POLL_ADD",
	OpPollRemove:     "POLL_REMOVE",
	OpSyncFileRange:  "SYNC_FILE_RANGE",
	OpSendmsg:        "SENDMSG",
	OpRecvmsg:        "RECVMSG",
	OpTimeout:        "TIMEOUT",
	OpTimeoutRemove:  "TIMEOUT_REMOVE",
	OpAccept:         "ACCEPT",
	OpAsyncCancel:    "ASYNC_CANCEL",
	OpLinkTimeout:    "LINK_TIMEOUT",
	OpConnect:        "CONNECT",
	OpFallocate:      "FALLOCATE",
	OpOpenat:         "OPENAT",
	OpClose:          "CLOSE",
	OpFilesUpdate:    "FILES_UPDATE",
	OpStatx:          "STATX",
	OpRead:           "READ",
	OpWrite:          "WRITE",
	OpFadvise:        "FADVISE",
	OpMadvise:        "MADVISE",
	OpSend:           "SEND",
	OpRecv:           "RECV",
	OpOpenat2:        "OPENAT2",
	OpEpollCtl:       "EPOLL_CTL",
	OpSplice:         "SPLICE",
	OpProvideBuffers: "PROVIDE_BUFFERS",
	OpRemoveBuffers:  "REMOVE_BUFFERS",
	OpTee:            "TEE",
	OpShutdown:       "SHUTDOWN",
	OpRenameat:       "RENAMEAT",
	OpUnlinkat:       "UNLINKAT",
	OpMkdirat:        "MKDIRAT",
	OpSymlinkat:      "SYMLINKAT",
	OpLinkat:         "LINKAT",
	OpMsgRing:        "MSG_RING",
	OpFsetxattr:      "FSETXATTR",
	OpSetxattr:       "SETXATTR",
	OpFgetxattr:      "FGETXATTR",
	OpGetxattr:       "GETXATTR",
	OpSocket:         "SOCKET",
	OpUringCmd:       "URING_CMD",
	OpSendZC:         "SEND_ZC",
	OpSendmsgZC:      "SENDMSG_ZC",
	OpReadMultishot:  "READ_MULTISHOT",
	OpWaitid:         "WAITID",
	OpFutexWait:      "FUTEX_WAIT",
	OpFutexWake:      "FUTEX_WAKE",
	OpFutexWaitv:     "FUTEX_WAITV",
	OpFixedFdInstall: "FIXED_FD_INSTALL",
	OpFtruncate:      "FTRUNCATE",
	OpBind:           "BIND",
	OpListen:         "LISTEN",
	OpRecvZC:         "RECV_ZC",
	OpEpollWait:      "EPOLL_WAIT",
	OpReadvFixed:     "READV_FIXED",
	OpWritevFixed:    "WRITEV_FIXED",
	OpPipe:           "PIPE",
}

// OpName returns the kernel's name for op without the IORING_OP_ prefix
// ("READV"), or "OP_<n>" for an opcode newer than this package.
func OpName(op uint8) string {
	if int(op) < len(opNames) {
		return opNames[op]
	}
	return "OP_" + strconv.Itoa(int(op))
}
