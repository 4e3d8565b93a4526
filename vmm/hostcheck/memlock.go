//go:build linux

package hostcheck

import (
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// checkMemlock compares RLIMIT_MEMLOCK with what registering io_uring
// fixed buffers will pin (1 MiB of bounce buffers per queue). Too little
// is a warning: I/O still works through unregistered buffers, just slower.
func checkMemlock(h *host) []Check {
	c := Check{Name: "memlock"}
	need := uint64(h.opts.Queues) * bounceBytesPerQueue
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_MEMLOCK, &lim); err != nil {
		c.Status, c.Detail = Warn, "getrlimit(RLIMIT_MEMLOCK): "+err.Error()
		c.Fix = "cannot tell whether fixed buffers can be registered"
		return []Check{c}
	}
	accounting := memlockAccounting()
	want := fmt.Sprintf("%s for %d queues' fixed bounce buffers", formatBytes(need), h.opts.Queues)
	switch {
	case h.capOK && h.capEff&(1<<capIPCLock) != 0:
		c.Status = Pass
		c.Detail = fmt.Sprintf("RLIMIT_MEMLOCK %s, but CAP_IPC_LOCK exempts io_uring buffer registration from it; %s", formatLimit(lim.Cur), accounting)
	case lim.Cur == unix.RLIM_INFINITY || lim.Cur >= need:
		c.Status = Pass
		c.Detail = fmt.Sprintf("RLIMIT_MEMLOCK %s covers %s; %s", formatLimit(lim.Cur), want, accounting)
	default:
		c.Status = Warn
		c.Detail = fmt.Sprintf("RLIMIT_MEMLOCK %s is below %s: registering them will fail with ENOMEM and I/O falls back to unregistered buffers; %s", formatLimit(lim.Cur), want, accounting)
		raise := "`ulimit -l " + strconv.FormatUint(need/1024, 10) + "` (KiB) before starting vmm"
		if lim.Max != unix.RLIM_INFINITY && lim.Max < need {
			raise = "raise the hard limit too: `* hard memlock " + strconv.FormatUint(need/1024, 10) + "` in /etc/security/limits.conf"
		}
		c.Fix = raise + ", or LimitMEMLOCK=" + strconv.FormatUint(need, 10) + " in the systemd unit"
	}
	return []Check{c}
}

// memlockAccounting says what the running kernel charges to the limit:
// since 5.12 the rings themselves go to the memory cgroup, only pinned
// (registered) buffers count against RLIMIT_MEMLOCK.
func memlockAccounting() string {
	maj, min := kernelVersion()
	if maj > 5 || maj == 5 && min >= 12 {
		return fmt.Sprintf("kernel %d.%d charges ring memory to the memory cgroup, only registered buffers to RLIMIT_MEMLOCK", maj, min)
	}
	if maj == 0 {
		return "kernel version unknown"
	}
	return fmt.Sprintf("kernel %d.%d charges ring memory and registered buffers to RLIMIT_MEMLOCK", maj, min)
}

// kernelVersion parses uname's release ("6.18.44-..."), 0,0 if it cannot.
func kernelVersion() (int, int) {
	var u unix.Utsname
	if unix.Uname(&u) != nil {
		return 0, 0
	}
	return parseRelease(unix.ByteSliceToString(u.Release[:]))
}

func parseRelease(rel string) (int, int) {
	parts := strings.SplitN(rel, ".", 3)
	if len(parts) < 2 {
		return 0, 0
	}
	maj, err1 := strconv.Atoi(parts[0])
	minStr := parts[1]
	if i := strings.IndexFunc(minStr, func(r rune) bool { return r < '0' || r > '9' }); i >= 0 {
		minStr = minStr[:i]
	}
	min, err2 := strconv.Atoi(minStr)
	if err1 != nil || err2 != nil {
		return 0, 0
	}
	return maj, min
}

func formatLimit(v uint64) string {
	if v == unix.RLIM_INFINITY {
		return "unlimited"
	}
	return formatBytes(v)
}

func formatBytes(v uint64) string {
	switch {
	case v >= 1<<30 && v%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", v>>30)
	case v >= 1<<20 && v%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", v>>20)
	case v >= 1<<10 && v%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", v>>10)
	}
	return fmt.Sprintf("%d bytes", v)
}
