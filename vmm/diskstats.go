package vmm

import "vmm/devices/virtio/block"

// DiskStats returns each disk's counters (requests, bytes, guest errors by
// kind), keyed by disk id. The counters stay readable after Close.
func (vm *VM) DiskStats() map[string]*block.Stats {
	vm.diskMu.Lock()
	defer vm.diskMu.Unlock()
	out := make(map[string]*block.Stats, len(vm.attached))
	for _, d := range vm.attached {
		out[d.img.cfg.ID] = d.dev.Stats()
	}
	return out
}
