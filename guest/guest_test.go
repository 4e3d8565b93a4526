package guest_test

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"vmm/guest"
	"vmm/internal/testutil"
	"vmm/vmm"
)

// bootTiny boots the embedded tiny kernel with the test device attached and
// returns its exit status and serial output.
func bootTiny(t *testing.T, cmdline string, cpus int) (int, string) {
	t.Helper()
	status, out, _ := bootTinyRepairs(t, cmdline, cpus)
	return status, out
}

// bootTinyRepairs is bootTiny that also returns the VMM's emulation repair
// counts (vmm.VM.Repairs, e.g. "clac=1 fwait=1 int3=1 ...").
func bootTinyRepairs(t *testing.T, cmdline string, cpus int) (int, string, string) {
	t.Helper()
	kernel, err := guest.TinyKernel()
	if errors.Is(err, guest.ErrNotBuilt) {
		t.Skip("guest/build/tiny.elf is missing: run `make` (make test builds it first)")
	}
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat("/dev/kvm"); err != nil {
		t.Skipf("needs /dev/kvm: %v", err)
	}
	var out testutil.SyncBuffer
	vm, err := vmm.New(vmm.Config{
		Kernel: kernel, KernelName: "tiny.elf", Cmdline: cmdline,
		MemSize: 256 << 20, CPUs: cpus, TestExit: true, Console: &out,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer vm.Close()
	// A hang guard only: a healthy run takes well under a second.
	hung := time.AfterFunc(2*time.Minute, func() { vm.Stop(vmm.Result{Status: -1}) })
	res := vm.Run()
	hung.Stop()
	if res.Err != nil {
		t.Fatalf("VM failed: %v\nserial output:\n%s", res.Err, out.String())
	}
	if res.Status == -1 {
		t.Fatalf("guest did not finish within 2 minutes\nserial output:\n%s", out.String())
	}
	return res.Status, out.String(), vm.Repairs()
}

// outputLines returns the set of serial output lines, without trailing CRs.
func outputLines(out string) map[string]bool {
	lines := map[string]bool{}
	for _, l := range strings.Split(out, "\n") {
		lines[strings.TrimRight(l, "\r")] = true
	}
	return lines
}

func TestTinyKernelUnderVMM(t *testing.T) {
	tests := []struct {
		name       string
		cmdline    string
		cpus       int
		wantStatus int
		wantLines  []string
	}{
		{
			name: "all", cmdline: "test=all expect_mem=256", cpus: 4, wantStatus: 0,
			wantLines: []string{
				"cmdline: test=all expect_mem=256",
				"PASS serial", "PASS cmdline", "PASS memory", "PASS exceptions",
				"cpu 1 up", "cpu 2 up", "cpu 3 up", "PASS smp",
				"PASS irqfd", "PASS pio", "PASS mmio",
				"PASS int3", "PASS intn", "PASS fwait", "PASS clacstac",
				"tiny: 12 passed, 0 failed",
			},
		},
		{
			name: "demo", cmdline: "", cpus: 2, wantStatus: 0,
			wantLines: []string{"vmm tiny kernel: booted on 2 vCPUs, 256 MiB", "cmdline: ", "PASS smp", "tiny: 5 passed, 0 failed"},
		},
		{
			name: "deliberate failure", cmdline: "test=serial,fail", cpus: 1, wantStatus: 3,
			wantLines: []string{"PASS serial", "FAIL fail: deliberate failure", "tiny: 1 passed, 1 failed"},
		},
		{
			name: "unknown case", cmdline: "test=nosuch", cpus: 1, wantStatus: 3,
			wantLines: []string{"FAIL nosuch: unknown test", "tiny: 0 passed, 1 failed"},
		},
		{
			name: "wrong memory expectation", cmdline: "test=memory expect_mem=512", cpus: 1, wantStatus: 3,
			wantLines: []string{"FAIL memory: highest RAM ends at 10000000, expect_mem=512 says 20000000"},
		},
		{
			name: "shutdown through i8042", cmdline: "test=shutdown", cpus: 1, wantStatus: 0,
			wantLines: []string{"PASS shutdown"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, out := bootTiny(t, tc.cmdline, tc.cpus)
			lines := outputLines(out)
			for _, want := range tc.wantLines {
				if !lines[want] {
					t.Errorf("no line %q in serial output", want)
				}
			}
			if status != tc.wantStatus {
				t.Errorf("exit status %d, want %d", status, tc.wantStatus)
			}
			if t.Failed() {
				t.Logf("serial output:\n%s", out)
			}
		})
	}
}

// TestTinyKernelRepairedInstructions runs the cases for the instructions
// kvm_pvm cannot emulate (int3, int $0x42, fwait, stac, clac). Where KVM
// stops on them, the VMM must have completed each exactly once; where KVM
// runs them itself, no repair may be counted at all.
func TestTinyKernelRepairedInstructions(t *testing.T) {
	status, out, repairs := bootTinyRepairs(t, "test=int3,intn,fwait,clacstac", 1)
	lines := outputLines(out)
	for _, want := range []string{"PASS int3", "PASS intn", "PASS fwait", "PASS clacstac", "tiny: 4 passed, 0 failed"} {
		if !lines[want] {
			t.Errorf("no line %q in serial output", want)
		}
	}
	if status != 0 {
		t.Errorf("exit status %d, want 0", status)
	}
	counts := map[string]string{}
	for _, kv := range strings.Fields(repairs) {
		if k, v, ok := strings.Cut(kv, "="); ok {
			counts[k] = v
		}
	}
	want := "1"
	if counts["int3"] == "0" {
		want = "0" // this KVM ran int3 itself: it should need no repair for any of them
	}
	for _, name := range []string{"int3", "int_n", "fwait", "clac", "stac"} {
		if counts[name] != want {
			t.Errorf("repair count %s=%q, want %s (all counts: %q)", name, counts[name], want, repairs)
		}
	}
	if counts["privileged_ud"] != "0" {
		t.Errorf("privileged_ud=%q, want 0: every case runs at CPL 0 (all counts: %q)", counts["privileged_ud"], repairs)
	}
	if t.Failed() {
		t.Logf("serial output:\n%s", out)
	}
}
