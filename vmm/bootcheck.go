package vmm

import (
	"bytes"
	"fmt"
	"regexp"
	"strconv"
	"time"

	"vmm/internal/syncbuf"
)

// BootCheckCPUs is how many vCPUs `vmm check` boots the tiny kernel on:
// two, so that bringing up an application processor is part of the proof.
const BootCheckCPUs = 2

// bootCheckCmdline picks the tiny kernel's cases: the console, SMP, and
// the timed loop (docs/guest.md).
const bootCheckCmdline = "test=serial,smp,speed"

// BootReport is what booting the tiny test kernel showed about this host.
type BootReport struct {
	CPUs int
	// Passed: the VM ran and the guest reported every case passed.
	Passed bool
	// ToFirstRun and ToExit are measured from the start of the check (VM
	// creation included).
	ToFirstRun, ToExit time.Duration
	// MIPS is how many million instructions per second the guest's
	// dec/jnz loop ran at; 0 when the guest could not time it.
	MIPS float64
	// Err says why the boot failed (nil when Passed).
	Err error
	// Output is the guest's console.
	Output string
}

var speedLine = regexp.MustCompile(`speed: (\d+) iterations of dec/jnz in (\d+) us`)

// BootCheck boots kernel (the tiny test kernel) on device with
// BootCheckCPUs vCPUs and reports whether a VM really ran on this host,
// how long it took, and how fast the guest executes. limit bounds the
// whole run (a guard against a host that hangs the guest).
func BootCheck(device string, kernel []byte, limit time.Duration) BootReport {
	rep := BootReport{CPUs: BootCheckCPUs}
	var out syncbuf.Buffer
	start := time.Now()
	vm, err := New(Config{Device: device, Kernel: kernel, KernelName: "built-in:tiny.elf", Cmdline: bootCheckCmdline,
		MemSize: 64 << 20, CPUs: BootCheckCPUs, TestExit: true, Console: &out})
	if err != nil {
		rep.Err = err
		return rep
	}
	defer vm.Close()
	timer := time.AfterFunc(limit, func() {
		vm.Stop(Result{Status: 1, Reason: ReasonTimeout, Err: fmt.Errorf("the guest did not finish within %v", limit)})
	})
	res := vm.Run()
	timer.Stop()
	if t := vm.FirstRun(); !t.IsZero() {
		rep.ToFirstRun = t.Sub(start)
	}
	rep.ToExit = time.Since(start)
	rep.Output = out.String()
	if m := speedLine.FindStringSubmatch(rep.Output); m != nil {
		iters, _ := strconv.ParseFloat(m[1], 64)
		us, _ := strconv.ParseFloat(m[2], 64)
		if us > 0 {
			rep.MIPS = 2 * iters / us
		}
	}
	switch {
	case res.Err != nil:
		rep.Err = res.Err
	case res.Reason != ReasonTestExit:
		rep.Err = fmt.Errorf("the guest stopped (%s) before it reported its cases", res.Reason)
	case res.Status != 0:
		rep.Err = fmt.Errorf("the guest reported failed cases: %s", firstFailure(rep.Output))
	default:
		rep.Passed = true
	}
	return rep
}

// firstFailure returns the guest's first FAIL line, or a note that there
// was none.
func firstFailure(out string) string {
	for _, line := range bytes.Split([]byte(out), []byte("\n")) {
		if bytes.HasPrefix(line, []byte("FAIL ")) {
			return string(bytes.TrimSpace(line))
		}
	}
	return "no FAIL line on the console"
}
