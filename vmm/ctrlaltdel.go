package vmm

// SendCtrlAltDel presses and releases Ctrl-Alt-Del on the guest's i8042
// keyboard, as Firecracker's SendCtrlAltDel action does. A Linux guest
// with the i8042 and AT keyboard drivers then runs its ctrl-alt-del
// handling (by default, a reboot, which ends the VM through reboot=k).
// Safe from any goroutine.
func (vm *VM) SendCtrlAltDel() error { return vm.i8042.SendCtrlAltDel() }
