package main

import (
	"strings"

	"github.com/spf13/cobra"

	"vmm/vmm"
	"vmm/vmm/fcconfig"
	"vmm/vmm/sandbox"
)

// runPlan is vmm run's configuration: the machine (fcconfig.Resources,
// from the flags' values, then --config-file, then the flags given
// explicitly) and what only flags set (console, device, test exit, ...).
type runPlan struct {
	f            runFlags
	res          *fcconfig.Resources
	embedded     bool // boot the built-in tiny kernel: no kernel given anywhere, no API to give one
	console      consoleSpec
	consoleLimit uint64
	sandbox      sandbox.Config // without Paths: sandboxConfig adds them once the VM is built
}

// newRunPlan checks the flags and builds the configuration. Mistakes are
// usage errors (exit 2), except those vmm.New finds when only flags are
// given (exit 1, as before there were configuration files).
func newRunPlan(cmd *cobra.Command, f runFlags) (*runPlan, error) {
	p := &runPlan{f: f}
	mem, err := vmm.ParseSize(f.mem)
	if err != nil {
		return nil, usagef("--mem: %v", err)
	}
	if f.cpus < 1 || f.cpus > vmm.MaxCPUs {
		return nil, usagef("--cpus %d is out of range: use 1 to %d", f.cpus, vmm.MaxCPUs)
	}
	switch f.workarounds {
	case vmm.WorkaroundsAuto, vmm.WorkaroundsOn, vmm.WorkaroundsOff:
	default:
		return nil, usagef("--workarounds %q: use auto, on or off", f.workarounds)
	}
	if !vmm.ValidBoot(f.boot) {
		return nil, usagef("--boot %q: use %s", f.boot, strings.Join(vmm.BootChoices, ", "))
	}
	if p.consoleLimit, err = vmm.ParseSize(f.consoleLimit); err != nil {
		return nil, usagef("--console-limit: %v", err)
	}
	if f.timeout < 0 {
		return nil, usagef("--timeout %v is negative: give a duration such as 30s, or 0 for none", f.timeout)
	}
	if p.sandbox, err = parseSandbox(f); err != nil {
		return nil, err
	}
	disks, err := parseDisks(f.disks)
	if err != nil {
		return nil, err
	}
	if p.console, err = parseConsole(f.console); err != nil {
		return nil, err
	}
	if err := p.console.precheck(); err != nil {
		return nil, err
	}
	changed := cmd.Flags().Changed
	p.res = fcconfig.NewResources(fcconfig.Machine{VCPUs: f.cpus, MemSize: mem})
	if f.configFile != "" {
		if err := p.res.ApplyFile(f.configFile); err != nil {
			return nil, &usageError{err}
		}
	}
	// Flags given explicitly override the file.
	if changed("cpus") {
		p.res.Machine.VCPUs = f.cpus
	}
	if changed("mem") {
		p.res.Machine.MemSize = mem
	}
	if f.kernel != "" {
		p.res.KernelPath = f.kernel
	}
	if changed("initrd") {
		p.res.InitrdPath = f.initrd
	}
	if changed("cmdline") {
		args := f.cmdline
		p.res.BootArgs = &args
	}
	if len(disks) > 0 {
		if err := p.res.SetDrives(flagDrives(disks)); err != nil {
			return nil, usagef("--disk: %v", err)
		}
	}
	if f.configFile != "" {
		if err := p.res.Validate(); err != nil {
			return nil, usagef("--config-file %s with the flags given: %v", f.configFile, err)
		}
		if p.res.KernelPath == "" && f.apiSock == "" {
			return nil, usagef("config file %s has no boot-source: add one, or give --kernel", f.configFile)
		}
	}
	p.embedded = p.res.KernelPath == "" && f.configFile == "" && f.apiSock == ""
	return p, nil
}

// flagDrives turns --disk values into drives (no root device: --disk
// leaves the command line alone).
func flagDrives(disks []vmm.DiskConfig) []fcconfig.DriveConfig {
	out := make([]fcconfig.DriveConfig, len(disks))
	for i, d := range disks {
		dc := fcconfig.DriveConfig{ID: d.ID, GetID: d.ID, Path: d.Path, ReadOnly: d.ReadOnly, Direct: d.Direct,
			CacheType: fcconfig.CacheWriteback}
		if d.Unsafe {
			dc.CacheType = fcconfig.CacheUnsafe
		}
		switch d.Engine {
		case "sync":
			dc.IOEngine = fcconfig.EngineSync
		case "uring":
			dc.IOEngine = fcconfig.EngineAsync
		}
		out[i] = dc
	}
	return out
}

// defaultBootArgs is the command line when none was given: the tiny
// kernel's demo takes none, any other kernel gets defaultCmdline.
func (p *runPlan) defaultBootArgs() string {
	if p.embedded {
		return ""
	}
	return defaultCmdline
}

// vmConfig is the vmm.Config for a launch (kernel and initrd bytes are
// added by the caller).
func (p *runPlan) vmConfig(l fcconfig.Launch) vmm.Config {
	cfg := vmm.Config{Device: p.f.device, MemSize: l.MemSize, CPUs: l.CPUs, TestExit: p.f.testExit, Cmdline: l.Cmdline,
		Workarounds: p.f.workarounds, Boot: p.f.boot, Disks: l.Disks, HugePages: l.HugePages}
	if p.console.kind == "file" {
		cfg.ConsoleLimit = p.consoleLimit
	}
	return cfg
}
