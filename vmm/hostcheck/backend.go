//go:build linux

package hostcheck

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// backendNotes explains each known KVM backend module.
var backendNotes = map[string]string{
	"kvm_intel": "Intel VT-x",
	"kvm_amd":   "AMD-V (SVM)",
	"kvm_pvm":   "PVM: pagetable-based virtualization that needs no VT-x/AMD-V, used to run KVM inside a cloud VM; exits cost several times bare metal",
}

// sysModule is where loaded modules appear; a variable so tests can point
// it elsewhere.
var sysModule = "/sys/module"

// checkBackend names the KVM implementation and whether this host is
// itself a VM: information that explains performance, never a failure.
func checkBackend(h *host) []Check {
	return []Check{backendCheck(), nestedCheck()}
}

// Backends lists the loaded KVM backend modules (kvm_intel, kvm_amd,
// kvm_pvm, ...), sorted. The VMM uses it to decide on backend workarounds.
func Backends() []string {
	matches, _ := filepath.Glob(filepath.Join(sysModule, "kvm_*"))
	var names []string
	for _, m := range matches {
		names = append(names, filepath.Base(m))
	}
	sort.Strings(names)
	return names
}

func backendCheck() Check {
	c := Check{Name: "kvm-backend", Status: Pass}
	names := Backends()
	if len(names) == 0 {
		if _, err := os.Stat(filepath.Join(sysModule, "kvm")); err == nil {
			c.Detail = "kvm is loaded but no backend module (kvm_intel, kvm_amd, ...) is: KVM_CREATE_VM will fail"
			c.Status = Warn
			c.Fix = "`modprobe kvm_intel` or `modprobe kvm_amd`"
			return c
		}
		c.Detail = "no kvm modules in " + sysModule + " (KVM may be built into the kernel)"
		return c
	}
	var parts []string
	for _, n := range names {
		p := n
		if note, ok := backendNotes[n]; ok {
			p += " (" + note + ")"
		}
		if b, err := os.ReadFile(filepath.Join(sysModule, n, "parameters", "nested")); err == nil {
			p += ", nested=" + strings.TrimSpace(string(b))
		}
		parts = append(parts, p)
	}
	c.Detail = "backend: " + strings.Join(parts, "; ")
	return c
}

// cpuinfoPath is read for the hypervisor flag (CPUID.1:ECX bit 31).
var cpuinfoPath = "/proc/cpuinfo"

func nestedCheck() Check {
	c := Check{Name: "host-is-guest", Status: Pass}
	b, err := os.ReadFile(cpuinfoPath)
	if err != nil {
		c.Detail = fmt.Sprintf("cannot read %s: %v", cpuinfoPath, err)
		return c
	}
	if hasHypervisorFlag(string(b)) {
		c.Detail = "yes: the CPU reports the hypervisor flag, so this host is itself a VM and KVM is nested; each VM exit costs more (here a port-I/O exit is ~10 µs vs 1-2 µs on bare metal)"
	} else {
		c.Detail = "no: bare metal (no hypervisor CPU flag)"
	}
	return c
}

// hasHypervisorFlag looks for "hypervisor" in the first flags line.
func hasHypervisorFlag(cpuinfo string) bool {
	for _, line := range strings.Split(cpuinfo, "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok || strings.TrimSpace(k) != "flags" {
			continue
		}
		for _, f := range strings.Fields(v) {
			if f == "hypervisor" {
				return true
			}
		}
		return false
	}
	return false
}
