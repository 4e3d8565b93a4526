package vmm

// Stats is a snapshot of what a VM has done, for metrics and
// --result-json. Counters only grow.
type Stats struct {
	// Exits counts VM exits by kind (exit_io_in, exit_mmio_write, ...),
	// summed over the vCPUs.
	Exits map[string]uint64
	// Repairs counts the instructions the VMM completed for KVM, by name.
	Repairs map[string]uint64
	// SerialOut and SerialIn are bytes the guest wrote to and read from
	// its serial port.
	SerialOut, SerialIn uint64
	// Disks are the virtio block devices, in order.
	Disks []DiskStats
}

// DiskStats are one disk's counters.
type DiskStats struct {
	ID, Path, Backend                             string
	Reads, Writes, Flushes, Discards, WriteZeroes uint64
	GetIDs, BytesRead, BytesWritten               uint64
	// IOErrors and Unsupported are requests completed with IOERR or
	// UNSUPP; BackendErrors are failures of the host side itself.
	IOErrors, Unsupported, BackendErrors uint64
	Kicks, Interrupts                    uint64
	// Updates and UpdateFails count image replacements (UpdateDisk).
	Updates, UpdateFails uint64
	// GuestErrors counts the guest's protocol violations and refused
	// requests by kind.
	GuestErrors map[string]uint64
}

// Stats returns the VM's counters. Safe from any goroutine, at any time
// between New and Close.
func (vm *VM) Stats() Stats {
	s := Stats{Exits: vm.exitCounts(), Repairs: vm.repairs.snapshot()}
	if vm.serial != nil {
		s.SerialOut, s.SerialIn = vm.serial.Counts()
	}
	vm.diskMu.Lock()
	defer vm.diskMu.Unlock()
	for _, d := range vm.attached {
		bs := d.dev.Stats()
		s.Disks = append(s.Disks, DiskStats{
			ID: d.img.cfg.ID, Path: d.img.cfg.Path, Backend: d.dev.Backend(),
			Reads: bs.Reads.Load(), Writes: bs.Writes.Load(), Flushes: bs.Flushes.Load(),
			Discards: bs.Discards.Load(), WriteZeroes: bs.WriteZeroes.Load(), GetIDs: bs.GetIDs.Load(),
			BytesRead: bs.BytesRead.Load(), BytesWritten: bs.BytesWritten.Load(),
			IOErrors: bs.IOErrors.Load(), Unsupported: bs.Unsupported.Load(), BackendErrors: bs.BackendErrors.Load(),
			Kicks: bs.Kicks.Load(), Interrupts: bs.Interrupts.Load(),
			Updates: d.updates, UpdateFails: d.updateFails,
			GuestErrors: bs.Kinds(),
		})
	}
	return s
}

// snapshot copies the repair counters by name.
func (c *repairCounters) snapshot() map[string]uint64 {
	out := make(map[string]uint64, len(c.counts))
	for n, v := range c.counts {
		out[n] = v.Load()
	}
	return out
}
