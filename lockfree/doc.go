// Package lockfree provides Map, a concurrent hash map built for the VMM's
// hot read path: the device bus and device state are looked up on every VM
// exit from every vCPU, while writes (registering a device, changing its
// state) are rare.
//
// # Design
//
// A Map points (atomically) at a table: a power-of-two array of bucket
// slots, each an atomic.Pointer to the head of an immutable singly linked
// chain of nodes. A node holds a key, its hash and its value, and is never
// modified after it is published. So:
//
//   - A read is two atomic loads (table, slot) and a walk of a short chain of
//     immutable nodes. It takes no lock, writes no shared memory and
//     allocates nothing; a value can never be seen half written, because the
//     node carrying it was complete before the CAS that published it.
//   - A write copies the bucket's entries, edits the copy, builds a new
//     chain from it and installs that with one CompareAndSwap on the slot.
//     If another writer changed the slot first, the CAS fails and the write
//     retries from the fresh head. Some writer always succeeds, so writers
//     are lock-free too.
//   - A chain is built as one array of nodes, so its nodes are adjacent in
//     memory: a hit on the second node of a two-node bucket is in the same
//     cache line as the first, not another miss. Chains are short anyway:
//     the table grows at 1/4 load while small, 1/2 once big.
//   - In a small (cache-resident) table, Load picks between a chain's first
//     two nodes without a conditional branch (see candidate), because there
//     a mispredicted branch is the biggest cost left. In a big table it
//     keeps the branch: there, speculating on the first node lets the next
//     cache miss start sooner, which measured faster.
//
// # Growth without stopping readers
//
// When the map passes its load threshold, a writer allocates a table twice
// the size whose slots all hold a shared "pending" marker, and announces it
// in the old table's next field. Old buckets then move one at a time,
// cooperatively: writers over the threshold claim chunks of 64 buckets,
// and any writer whose key's new slot is still pending moves that bucket
// first:
//
//  1. Freeze: CAS the old slot from its chain to a "frozen" marker that
//     carries the same chain. No write ever lands on a frozen slot again;
//     writers that meet one go on to the new table.
//  2. Install: old bucket i splits into new buckets i and i+len(old); each
//     is CASed from the pending marker to the frozen chain's entries for that
//     half. The content is a pure function of the frozen chain, so helpers
//     racing on the same bucket install identical content and only the
//     first CAS wins.
//
// When every bucket has moved, the map's table pointer switches to the new
// table and the old one becomes garbage. Readers never wait and never help:
// a reader that meets a frozen slot looks in the new table, and if that
// slot is still pending, reads the frozen chain it came from, which is
// authoritative until the install because no write reaches a new bucket
// before it. The root never holds a pending slot (it switches only after
// every install), so the common read path checks for one marker only. The
// map only grows; deleting entries does not shrink it, which suits device
// tables that are built once and then read.
//
// # Why ABA cannot happen here, and when it would
//
// A writer reads a slot's head A, builds a new chain from it and CASes the
// slot from A to the new head. The classic ABA hazard is that, between the
// read and the CAS, A is removed, freed, and its memory reused for a new
// node that gets stored in the same slot, so the CAS succeeds against
// content the writer never saw and silently drops an update. Go's garbage
// collector rules that out: a node cannot be freed, let alone reallocated
// at the same address, while any goroutine still holds a pointer to it (a
// pointer into a chain's node array keeps the whole array), and the writer
// holding A is such a goroutine. Every write builds a fresh chain, so a slot
// never holds A again once A is replaced (nil comes back, but nil is the
// empty bucket every time); and nodes are immutable, so the pointer A names
// exactly the chain content the writer saw, and its CAS is correct. A table's pending marker is shared by all its
// slots but is only ever replaced, never stored back, so a late helper's
// install (a CAS from the marker) cannot overwrite a newer write either.
//
// The guarantee would be lost if nodes were recycled through a free list or
// sync.Pool to save allocations: a recycled node gets new contents at the old
// address while a slow writer's CAS, or a reader's walk, still refers to it,
// giving lost updates and torn or wrong reads. Don't recycle nodes; writes
// are rare, and the allocation is what makes reads free of any
// synchronisation beyond atomic loads.
package lockfree
