//go:build linux

// Package iouring is a small pure-Go io_uring binding (no cgo) with names
// modelled on liburing: Setup/Close, GetSQE and Prep* helpers, Submit,
// SubmitAndWait, WaitCQE, PeekCQE, PeekBatchCQE, CQESeen/CQAdvance, and the
// io_uring_register operations the VMM needs (files, buffers, eventfd,
// restrictions, probe).
//
// # Memory ordering
//
// The SQ and CQ rings are shared with the kernel. Each ring has a head and a
// tail; one side only ever writes each index:
//
//   - SQ tail: written by us, read by the kernel. We fill SQEs with plain
//     stores, then publish them with an atomic store to the tail (a release:
//     the kernel's acquire load of the tail sees the SQE contents).
//   - SQ head: written by the kernel as it consumes SQEs; we read it with an
//     atomic load (an acquire) before reusing a slot.
//   - CQ tail: written by the kernel after it fills a CQE; we read it with an
//     atomic load (an acquire) before reading CQEs up to it.
//   - CQ head: written by us with an atomic store (a release) only after we
//     have copied a CQE out, so the kernel never overwrites one being read.
//   - SQ flags (IORING_SQ_CQ_OVERFLOW, ...): read with atomic loads.
//
// Go's sync/atomic operations are sequentially consistent, which is at least
// as strong as the acquire/release pairs liburing uses.
//
// # Concurrency
//
// A Ring is not safe for unsynchronised use. The submission side (GetSQE,
// Prep*, Submit, SubmitAndWait) must be used by one goroutine at a time, and
// the completion side (PeekCQE, WaitCQE, PeekBatchCQE, CQESeen, CQAdvance) by
// one goroutine at a time; the two sides may run in different goroutines.
// Close must not run concurrently with anything else.
//
// # Go memory handed to the kernel
//
// SQEs carry plain addresses. The kernel copies everything an SQE points to
// that is not data (iovec arrays, for example) by the time io_uring_enter
// returns (IORING_FEAT_SUBMIT_STABLE, which Setup requires). So:
//
//   - an iovec array passed to PrepReadv/PrepWritev must stay reachable and
//     unchanged until the Submit call that sends it returns;
//   - a data buffer (PrepRead's buf, the memory an iovec points at) must stay
//     reachable and unchanged until its CQE has been reaped.
//
// The Go garbage collector never moves heap objects, but goroutine stacks do
// move. The Prep helpers that take Go slices force their argument onto the
// heap (see prep_unsafe.go), so a stack address never reaches the kernel.
// Callers keep the memory alive, for example with runtime.KeepAlive after
// Submit, or by holding it in the request that owns the SQE. Memory outside
// the Go heap (guest RAM is an anonymous mmap) can be passed as raw addresses
// through the *Addr variants.
package iouring
