package main

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"vmm/vmm/hostcheck"
)

type checkLine struct{ Name, Status, Detail, Fix string }

func checkJSON(t *testing.T, args ...string) []checkLine {
	t.Helper()
	out := captureStdout(t, func() { execute(append([]string{"check", "--json"}, args...)) })
	var r struct{ Checks []checkLine }
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	return r.Checks
}

// TestCheckBoot: when the host checks pass, vmm check boots the tiny
// kernel on two vCPUs and reports it with its time, then the guest's
// speed; on kvm_pvm that speed is the instruction emulator's, and the
// check says so. --boot=false leaves both out.
func TestCheckBoot(t *testing.T) {
	needKVM(t)
	tinyKernelPath(t) // the embedded copy exists only after make
	checks := checkJSON(t)
	byName := map[string]checkLine{}
	for _, c := range checks {
		byName[c.Name] = c
	}
	boot, speed := byName["boot"], byName["guest-speed"]
	if boot.Status != "pass" || !strings.Contains(boot.Detail, "booted the built-in tiny kernel on 2 vCPUs: first KVM_RUN after") {
		t.Fatalf("boot check %+v (all: %+v)", boot, checks)
	}
	if speed.Status == "" || !strings.Contains(speed.Detail, "million instructions/s") {
		t.Fatalf("guest-speed check %+v", speed)
	}
	if slices.Contains(hostcheck.Backends(), "kvm_pvm") && (speed.Status != "warn" || !strings.Contains(speed.Detail, "instruction emulator")) {
		t.Errorf("on kvm_pvm the guest-speed check should warn about the emulator: %+v", speed)
	}
	t.Logf("%s: %s", boot.Name, boot.Detail)
	t.Logf("%s: %s", speed.Name, speed.Detail)
	for _, c := range checkJSON(t, "--boot=false") {
		if c.Name == "boot" || c.Name == "guest-speed" {
			t.Errorf("--boot=false still ran %s", c.Name)
		}
	}
}
