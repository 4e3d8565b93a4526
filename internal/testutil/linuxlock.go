package testutil

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// LinuxBootLock is the file every test that boots Linux locks (flock(2),
// exclusive) for the length of the boot. A Linux boot takes one to several
// minutes of CPU on this project's machines, and two at once slow each
// other down four times or more; the lock makes them take turns across
// test binaries, packages and processes. A person booting Linux by hand
// can take the same lock: `flock /tmp/vmm-linux-boot.lock vmm run ...`.
const LinuxBootLock = "/tmp/vmm-linux-boot.lock"

// lockWaitReport is how often a test waiting for the lock says so.
const lockWaitReport = time.Minute

// LockLinuxBoot returns once t holds LinuxBootLock; the lock is released
// when t ends. If a process this test runs under already holds it (the
// whole `go test` run wrapped in flock(1)), the test goes ahead under that
// lock instead of waiting for itself forever.
func LockLinuxBoot(t testing.TB) {
	t.Helper()
	lockExclusive(t, LinuxBootLock)
}

func lockExclusive(t testing.TB, path string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o666)
	if err != nil {
		t.Fatalf("opening the Linux boot lock: %v", err)
	}
	fd := int(f.Fd())
	start := time.Now()
	var reported time.Time
	for {
		err := unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			break
		}
		if err != unix.EWOULDBLOCK && err != unix.EINTR {
			f.Close()
			t.Fatalf("flock %s: %v", path, err)
		}
		if pid, ok := lockHolderIsAncestor(f); ok {
			t.Logf("%s is held by pid %d, which this test runs under: going ahead under its lock", path, pid)
			f.Close()
			return
		}
		if reported.IsZero() || time.Since(reported) >= lockWaitReport {
			t.Logf("waiting for %s (%v so far): held by %s", path, time.Since(start).Round(time.Second), lockHolder(f))
			reported = time.Now()
		}
		time.Sleep(200 * time.Millisecond)
	}
	if waited := time.Since(start); waited > time.Second {
		t.Logf("took %s after waiting %v", path, waited.Round(time.Second))
	}
	// Say who holds it, for the tests that wait.
	_ = f.Truncate(0)
	_, _ = f.WriteAt([]byte(fmt.Sprintf("pid %d, %s\n", os.Getpid(), t.Name())), 0)
	t.Cleanup(func() {
		_ = f.Truncate(0)
		_ = unix.Flock(fd, unix.LOCK_UN)
		f.Close()
	})
}

// lockHolder describes who holds f's lock: what a test wrote into the
// file, or the holder's command line from /proc.
func lockHolder(f *os.File) string {
	b := make([]byte, 256)
	if n, _ := f.ReadAt(b, 0); n > 0 {
		return strings.TrimSpace(string(b[:n]))
	}
	for _, pid := range flockHolders(f) {
		cmd, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
		return fmt.Sprintf("pid %d (%s)", pid, strings.Join(strings.Fields(strings.ReplaceAll(string(cmd), "\x00", " ")), " "))
	}
	return "an unknown process"
}

// lockHolderIsAncestor reports whether a process holding a flock on f is
// this process's parent, grandparent, and so on.
func lockHolderIsAncestor(f *os.File) (int, bool) {
	holders := flockHolders(f)
	if len(holders) == 0 {
		return 0, false
	}
	for pid := os.Getppid(); pid > 1; pid = parentOf(pid) {
		for _, h := range holders {
			if h == pid {
				return pid, true
			}
		}
	}
	return 0, false
}

// flockHolders lists the pids /proc/locks gives for flock(2) locks on f's
// inode (lines like "1: FLOCK  ADVISORY  WRITE 1234 fe:00:5678 0 EOF").
func flockHolders(f *os.File) []int {
	var st unix.Stat_t
	if unix.Fstat(int(f.Fd()), &st) != nil {
		return nil
	}
	locks, err := os.ReadFile("/proc/locks")
	if err != nil {
		return nil
	}
	suffix := ":" + strconv.FormatUint(st.Ino, 10)
	var pids []int
	for _, line := range strings.Split(string(locks), "\n") {
		fields := strings.Fields(line)
		if len(fields) < 6 || fields[1] != "FLOCK" || !strings.HasSuffix(fields[5], suffix) {
			continue
		}
		if pid, err := strconv.Atoi(fields[4]); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids
}

// parentOf returns pid's parent from /proc/PID/stat, or 0.
func parentOf(pid int) int {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	// "pid (comm) state ppid ...": comm may hold spaces and parentheses.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0
	}
	fields := strings.Fields(s[i+1:])
	if len(fields) < 2 {
		return 0
	}
	ppid, _ := strconv.Atoi(fields[1])
	return ppid
}
