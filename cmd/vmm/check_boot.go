package main

import (
	"time"

	"vmm/vmm"
	"vmm/vmm/hostcheck"
)

// bootCheckLimit bounds the boot check: the tiny kernel's cases take well
// under a second even where guests run through KVM's emulator.
const bootCheckLimit = 60 * time.Second

// withBootChecks boots the built-in tiny kernel and appends what that
// showed to r: the proof, no host check can give, that a VM really runs.
func withBootChecks(r hostcheck.Report, device string) hostcheck.Report {
	facts := hostcheck.BootFacts{CPUs: vmm.BootCheckCPUs}
	if kernel, err := embeddedKernel(); err != nil {
		facts.Err = err
	} else {
		b := vmm.BootCheck(device, kernel, bootCheckLimit)
		facts = hostcheck.BootFacts{CPUs: b.CPUs, Passed: b.Passed, ToFirstRun: b.ToFirstRun, ToExit: b.ToExit, MIPS: b.MIPS, Err: b.Err}
	}
	for _, c := range hostcheck.BootChecks(facts) {
		r.Checks = append(r.Checks, c)
		if c.Status == hostcheck.Fail {
			r.OK = false
		}
	}
	return r
}
