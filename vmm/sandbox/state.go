//go:build linux

package sandbox

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// State is the process's privileges as the kernel reports them, over all
// its threads: capability sets OR-ed together, no_new_privs only if every
// thread has it. It is for logging and tests; DropPrivileges checks it.
type State struct {
	Threads                                int
	UIDs, GIDs                             string // real, effective, saved, fs as in /proc (one thread's; ids are process-wide in Go)
	CapInh, CapPrm, CapEff, CapBnd, CapAmb uint64
	NoNewPrivs                             bool
	Dumpable                               bool
	NofileLimit, CoreLimit                 uint64 // soft limits
}

func (s State) String() string {
	return fmt.Sprintf("threads %d, uid %s, gid %s, CapInh %#x CapPrm %#x CapEff %#x CapBnd %#x CapAmb %#x, no_new_privs %v, dumpable %v, RLIMIT_NOFILE %d, RLIMIT_CORE %d",
		s.Threads, s.UIDs, s.GIDs, s.CapInh, s.CapPrm, s.CapEff, s.CapBnd, s.CapAmb, s.NoNewPrivs, s.Dumpable, s.NofileLimit, s.CoreLimit)
}

// ReadState reads /proc/self/task/*/status, prctl(PR_GET_DUMPABLE) and the
// two limits. Call it before RestrictFiles: Landlock hides /proc after.
func ReadState() (State, error) {
	s := State{NoNewPrivs: true}
	tasks, err := filepath.Glob("/proc/self/task/*/status")
	if err != nil || len(tasks) == 0 {
		return s, fmt.Errorf("reading the threads' credentials: no /proc/self/task/*/status (is /proc mounted?)")
	}
	for _, p := range tasks {
		b, err := os.ReadFile(p)
		if os.IsNotExist(err) {
			continue // the thread exited
		}
		if err != nil {
			return s, fmt.Errorf("reading the threads' credentials: %w", err)
		}
		s.Threads++
		for _, line := range strings.Split(string(b), "\n") {
			k, v, ok := strings.Cut(line, ":")
			if !ok {
				continue
			}
			v = strings.TrimSpace(v)
			hex := func(dst *uint64) error {
				n, err := strconv.ParseUint(v, 16, 64)
				if err != nil {
					return fmt.Errorf("%s: %s %q: %w", p, k, v, err)
				}
				*dst |= n
				return nil
			}
			switch k {
			case "Uid":
				s.UIDs = strings.Join(strings.Fields(v), ",")
			case "Gid":
				s.GIDs = strings.Join(strings.Fields(v), ",")
			case "CapInh":
				err = hex(&s.CapInh)
			case "CapPrm":
				err = hex(&s.CapPrm)
			case "CapEff":
				err = hex(&s.CapEff)
			case "CapBnd":
				err = hex(&s.CapBnd)
			case "CapAmb":
				err = hex(&s.CapAmb)
			case "NoNewPrivs":
				s.NoNewPrivs = s.NoNewPrivs && v == "1"
			}
			if err != nil {
				return s, err
			}
		}
	}
	d, err := unix.PrctlRetInt(unix.PR_GET_DUMPABLE, 0, 0, 0, 0)
	if err != nil {
		return s, fmt.Errorf("prctl(PR_GET_DUMPABLE): %w", err)
	}
	s.Dumpable = d != 0
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		return s, err
	}
	s.NofileLimit = lim.Cur
	if err := unix.Getrlimit(unix.RLIMIT_CORE, &lim); err != nil {
		return s, err
	}
	s.CoreLimit = lim.Cur
	return s, nil
}
