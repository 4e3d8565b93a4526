package sandbox

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// benchEnv makes a re-executed test binary time getpid (on the allow list)
// under the seccomp mode it names and print ns per call: the filter cannot
// be removed once installed, so each mode gets a process of its own.
const benchEnv = "VMM_SANDBOX_BENCH"

// runSyscallBench is the child's side of BenchmarkSeccompFilter.
func runSyscallBench(mode string) int {
	if _, err := Install(Config{Seccomp: SeccompMode(mode), UID: -1, GID: -1}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 3
	}
	r := testing.Benchmark(func(b *testing.B) {
		for b.Loop() {
			unix.Getpid()
		}
	})
	fmt.Printf("%.1f\n", float64(r.T.Nanoseconds())/float64(r.N))
	return 0
}

// BenchmarkSeccompFilter reports what one allowed system call costs with
// the kill-mode filter installed and without any, each measured in a child
// process (scripts/bench-sandbox.sh measures the VM exit round trip).
func BenchmarkSeccompFilter(b *testing.B) {
	exe, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		for _, mode := range []string{"kill", "off"} {
			cmd := exec.Command(exe, "-test.run=^$")
			cmd.Env = append(os.Environ(), benchEnv+"="+mode)
			out, err := cmd.Output()
			if err != nil {
				b.Fatalf("%s: %v", mode, err)
			}
			ns, err := strconv.ParseFloat(strings.TrimSpace(string(out)), 64)
			if err != nil {
				b.Fatalf("%s: output %q", mode, out)
			}
			b.ReportMetric(ns, "ns/getpid-"+mode)
		}
	}
}
