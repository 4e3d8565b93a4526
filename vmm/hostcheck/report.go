//go:build linux

// Package hostcheck answers "can this host run a VM, and if not, what do I
// change?" It runs a list of small checks against the real kernel (open the
// KVM device, ask it questions, set up an io_uring, read limits) and reports
// each as pass, warn or fail with a detail and, short of pass, a fix.
//
// Nothing here needs privileges beyond what running a VM needs: read/write
// access to /dev/kvm. No check asks for CAP_SYS_ADMIN, and none claims it
// is needed.
package hostcheck

import "vmm/kvm"

// Status is a check's verdict.
type Status string

const (
	// Pass: nothing to do.
	Pass Status = "pass"
	// Warn: VMs can run, but something will be slower or limited.
	Warn Status = "warn"
	// Fail: VMs cannot run (or a required feature is missing) until fixed.
	Fail Status = "fail"
)

// Check is one line of the report.
type Check struct {
	Name   string `json:"name"`
	Status Status `json:"status"`
	Detail string `json:"detail"`
	Fix    string `json:"fix"`
}

// Report is the whole verdict. OK is false when any check failed.
type Report struct {
	OK     bool    `json:"ok"`
	Checks []Check `json:"checks"`
}

// Failed returns the checks that failed.
func (r Report) Failed() []Check {
	var out []Check
	for _, c := range r.Checks {
		if c.Status == Fail {
			out = append(out, c)
		}
	}
	return out
}

// Options says what to check.
type Options struct {
	// Device is the KVM device node; empty means /dev/kvm.
	Device string
	// Queues is how many virtio queues will register io_uring fixed bounce
	// buffers (1 MiB each) for the memlock check; 0 means DefaultQueues.
	Queues int
}

// DefaultQueues is the queue count the memlock check plans for when
// Options.Queues is 0: a couple of block devices with a queue or two each.
const DefaultQueues = 4

// bounceBytesPerQueue is the fixed-buffer memory one queue registers.
const bounceBytesPerQueue = 1 << 20

// host carries facts the checks share, gathered as they run.
type host struct {
	opts   Options
	creds  creds
	dev    *deviceInfo // nil when the device is not a usable KVM node
	sys    *kvm.System // nil when it could not be opened
	capEff uint64
	capOK  bool // capEff was read
}

// Run performs every check in order and returns the report. It never
// panics on a strange host: each check turns what it finds into a verdict.
func Run(opts Options) Report {
	if opts.Device == "" {
		opts.Device = kvm.DefaultDevice
	}
	if opts.Queues <= 0 {
		opts.Queues = DefaultQueues
	}
	h := &host{opts: opts}
	h.capEff, h.capOK = readCapEff()
	var checks []Check
	for _, family := range []func(*host) []Check{
		checkIdentity,
		checkDevice,
		checkKVMAPI,
		checkBackend,
		checkIOUring,
		checkMemlock,
		checkCapabilities,
		checkSandbox,
	} {
		checks = append(checks, family(h)...)
	}
	if h.sys != nil {
		h.sys.Close()
	}
	r := Report{OK: true, Checks: checks}
	for _, c := range checks {
		if c.Status == Fail {
			r.OK = false
		}
	}
	return r
}
