package api

import "vmm/vmm/fcconfig"

// Machine is the VM behind the API. cmd/vmm implements it; every method
// may be called from any goroutine, one at a time.
type Machine interface {
	// Start builds the VM from res and starts it (InstanceStart). It
	// returns once the guest runs, or with why it could not start, in
	// which case the API stays Not started and the client may fix the
	// configuration and try again.
	Start(res *fcconfig.Resources) error
	// SendCtrlAltDel presses Ctrl-Alt-Del on the guest's keyboard.
	SendCtrlAltDel() error
	// UpdateDrive puts the image at path behind drive index (in start
	// order) of the running VM.
	UpdateDrive(index int, path string) error
	// ConfigureLogger applies a logger configuration (PUT /logger).
	ConfigureLogger(l fcconfig.LoggerConfig) error
	// ConfigureMetrics starts writing metrics to path (PUT /metrics).
	ConfigureMetrics(path string) error
	// FlushMetrics writes a metrics line now.
	FlushMetrics() error
}
