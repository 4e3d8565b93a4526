package testutil

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// SeccompLog reads the kernel log (/dev/kmsg) for the audit records seccomp
// writes for a logged or refused system call (type=1326). Open it before
// the processes whose records you want run: it sees only what is logged
// after it opened.
type SeccompLog struct {
	f     *os.File
	lines []string
}

// OpenSeccompLog opens /dev/kmsg at its end, or ends the test when the
// kernel log cannot be read here (not root, or dmesg_restrict).
func OpenSeccompLog(t testing.TB) *SeccompLog {
	t.Helper()
	fd, err := syscall.Open("/dev/kmsg", syscall.O_RDONLY|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
	if err != nil {
		Missing(t, "reading the kernel log needs /dev/kmsg (root, or kernel.dmesg_restrict=0): %v", err)
	}
	// SEEK_END: only records logged from now on.
	if _, err := syscall.Seek(fd, 0, 2); err != nil {
		syscall.Close(fd)
		t.Fatalf("/dev/kmsg: seek to end: %v", err)
	}
	l := &SeccompLog{f: os.NewFile(uintptr(fd), "/dev/kmsg")}
	t.Cleanup(func() { l.f.Close() })
	return l
}

// read appends every record logged since the last read.
func (l *SeccompLog) read() error {
	buf := make([]byte, 8192)
	for {
		n, err := syscall.Read(int(l.f.Fd()), buf)
		switch {
		case errors.Is(err, syscall.EAGAIN):
			return nil
		case errors.Is(err, syscall.EPIPE): // records overwritten before we read them: go on
			continue
		case err != nil:
			return err
		}
		if _, msg, ok := strings.Cut(string(buf[:n]), ";"); ok && strings.Contains(msg, "type=1326") {
			l.lines = append(l.lines, strings.TrimSpace(msg))
		}
	}
}

var syscallField = regexp.MustCompile(`\bsyscall=(\d+)`)

// For returns the syscall numbers the kernel logged for pid so far.
func (l *SeccompLog) For(pid int) ([]string, error) {
	if err := l.read(); err != nil {
		return nil, err
	}
	var out []string
	tag := fmt.Sprintf(" pid=%d ", pid)
	for _, line := range l.lines {
		if strings.Contains(line, tag) {
			if m := syscallField.FindStringSubmatch(line); m != nil {
				out = append(out, m[1])
			}
		}
	}
	return out, nil
}

// WaitFor waits up to within (a hang guard, not a timing assertion) until
// the kernel logged a record for pid, and returns its syscall numbers, or
// false if none came. Records come out in order, so once a later
// process's record is there, every earlier one is too: a probe that is
// logged for sure makes a barrier. Without auditd the kernel prints audit
// records under printk_ratelimit (by default 10 per 5 s, all processes
// together), so a record can be dropped: a probe that did not show is
// worth running again after the interval.
func (l *SeccompLog) WaitFor(t testing.TB, pid int, within time.Duration) ([]string, bool) {
	t.Helper()
	for deadline := time.Now().Add(within); ; time.Sleep(20 * time.Millisecond) {
		got, err := l.For(pid)
		if err != nil {
			t.Fatalf("reading /dev/kmsg: %v", err)
		}
		if len(got) > 0 {
			return got, true
		}
		if time.Now().After(deadline) {
			return nil, false
		}
	}
}

// RateLimitWindow is long enough for the kernel's printk rate limit
// (kernel.printk_ratelimit, 5 s by default) to let records through again.
const RateLimitWindow = 7 * time.Second
