//go:build linux

package hostcheck

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestBootChecks(t *testing.T) {
	cases := []struct {
		name         string
		f            BootFacts
		boot, speed  Status
		detail, want string
	}{
		{"failed", BootFacts{CPUs: 2, Err: errors.New("create VM: permission denied")}, Fail, "", "permission denied", ""},
		{"emulated", BootFacts{CPUs: 2, Passed: true, ToFirstRun: 3 * time.Millisecond, ToExit: 400 * time.Millisecond, MIPS: 3.9},
			Pass, Warn, "first KVM_RUN after 3.0 ms, done after 400.0 ms", "3.9 million instructions/s: this KVM runs guest code through its instruction emulator"},
		{"native", BootFacts{CPUs: 2, Passed: true, MIPS: 4200}, Pass, Pass, "on 2 vCPUs", "4200 million instructions/s: guest code runs natively"},
		{"untimed", BootFacts{CPUs: 2, Passed: true}, Pass, Warn, "on 2 vCPUs", "could not time its loop"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			checks := BootChecks(c.f)
			if checks[0].Name != "boot" || checks[0].Status != c.boot || !strings.Contains(checks[0].Detail, c.detail) {
				t.Errorf("boot %+v", checks[0])
			}
			if c.boot == Fail {
				if len(checks) != 1 || checks[0].Fix == "" {
					t.Errorf("a failed boot: %+v", checks)
				}
				return
			}
			if len(checks) != 2 || checks[1].Name != "guest-speed" || checks[1].Status != c.speed || !strings.Contains(checks[1].Detail, c.want) {
				t.Errorf("speed %+v", checks)
			}
			if c.speed == Warn && checks[1].Fix == "" {
				t.Errorf("a warning without a fix: %+v", checks[1])
			}
		})
	}
}
