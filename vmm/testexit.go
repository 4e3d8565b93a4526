package vmm

// TestExitStatus maps the value a guest writes to the test-exit port to the
// process exit status, so that a guest's verdict can never be mistaken for
// the VMM's own failures: 0 stays 0 (the guest passed), and any other value
// v becomes 2·v+1 (3, 5, 7, ...), as QEMU's isa-debug-exit does. Values
// above 127 would not fit an exit status and become 255. The VMM itself
// exits 1 for a runtime failure and 2 for a usage error, statuses a guest
// cannot produce.
func TestExitStatus(value uint32) int {
	if value == 0 {
		return 0
	}
	return int(2*min(value, 127) + 1)
}

// GuestValueFromStatus inverts TestExitStatus for odd statuses ≥ 3; ok is
// false for the statuses the VMM keeps for itself.
func GuestValueFromStatus(status int) (value uint32, ok bool) {
	switch {
	case status == 0:
		return 0, true
	case status >= 3 && status <= 255 && status%2 == 1:
		return uint32(status-1) / 2, true
	}
	return 0, false
}
