package main

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"

	"golang.org/x/sys/unix"
)

// describeMachine says what the figures were measured on: CPU, cores,
// memory, kernel, KVM backend, QEMU and Go versions, and the load average.
func describeMachine(qemu string) string {
	var parts []string
	model, cpus := "", 0
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok {
				switch strings.TrimSpace(k) {
				case "model name":
					model = strings.TrimSpace(v)
				case "processor":
					cpus++
				}
			}
		}
	}
	parts = append(parts, fmt.Sprintf("%d × %s", cpus, model))
	var si unix.Sysinfo_t
	if unix.Sysinfo(&si) == nil {
		parts = append(parts, fmt.Sprintf("%.0f GiB RAM", float64(si.Totalram)*float64(si.Unit)/(1<<30)))
	}
	var u unix.Utsname
	if unix.Uname(&u) == nil {
		parts = append(parts, "Linux "+unix.ByteSliceToString(u.Release[:]))
	}
	var kvm []string
	for _, m := range []string{"kvm_pvm", "kvm_intel", "kvm_amd"} {
		if _, err := os.Stat("/sys/module/" + m); err == nil {
			kvm = append(kvm, m)
		}
	}
	if len(kvm) == 0 {
		kvm = []string{"unknown"}
	}
	parts = append(parts, "KVM backend "+strings.Join(kvm, "+"))
	if qemu != "" {
		if out, err := exec.Command(qemu, "--version").Output(); err == nil {
			parts = append(parts, firstLine(strings.TrimSpace(string(out))))
		}
	}
	parts = append(parts, runtime.Version())
	if l := loadAverage(); l != "" {
		parts = append(parts, "load average "+l+" at start")
	}
	return strings.Join(parts, ", ")
}

// loadAverage is the 1, 5 and 15 minute load average: what else the
// machine was doing, which the figures cannot show.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	if f := strings.Fields(string(b)); len(f) >= 3 {
		return strings.Join(f[:3], " ")
	}
	return ""
}
