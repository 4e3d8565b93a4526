package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"vmm/internal/testutil"
)

// hangGuard bounds a long guest run without putting a clock on a healthy
// one: a stuck guest stops printing, so the guard fails a run whose console
// has been quiet for too long, and gives up on any run after limit whatever
// it prints (a guest looping on output).
type hangGuard struct {
	quiet time.Duration // longest console silence before the run counts as hung
	limit time.Duration // absolute cap
}

// linuxGuard is the guard for booting Linux. On kvm_pvm a boot takes one to
// one and a half minutes alone, and the longest console silence (logged
// with each boot) was 64 s: Debian's bzImage decompressing itself, which
// prints nothing. With the machine's two cores busy a boot takes four times
// as long or more (a 1-vCPU boot took 4 minutes with a 1 m 40 s silence).
// Ten minutes of silence is a hang even then.
var linuxGuard = hangGuard{quiet: 10 * time.Minute, limit: 30 * time.Minute}

// progressBuffer is a console buffer that remembers when it last grew.
type progressBuffer struct {
	testutil.SyncBuffer
	last atomic.Int64 // UnixNano of the last non-empty write
}

func (b *progressBuffer) Write(p []byte) (int, error) {
	if len(p) > 0 {
		b.last.Store(time.Now().UnixNano())
	}
	return b.SyncBuffer.Write(p)
}

// guardedRun is how a guarded command ended.
type guardedRun struct {
	console, log string
	err          error         // from Wait
	hung         string        // why the guard killed it; "" if it ended by itself
	took         time.Duration // start to end
	longestQuiet time.Duration // longest console silence seen
	quietAfter   string        // the console line that silence followed
}

// runGuarded runs cmd with its stdout as the console and its stderr as the
// log, killing it when g says it hangs.
func runGuarded(cmd *exec.Cmd, g hangGuard) guardedRun {
	var console progressBuffer
	var log testutil.SyncBuffer
	cmd.Stdout, cmd.Stderr = &console, &log
	start := time.Now()
	console.last.Store(start.UnixNano())
	if err := cmd.Start(); err != nil {
		return guardedRun{err: err}
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var r guardedRun
	for ended := false; !ended; {
		select {
		case r.err = <-done:
			ended = true
		case now := <-tick.C:
			quiet := now.Sub(time.Unix(0, console.last.Load()))
			if quiet > r.longestQuiet {
				r.longestQuiet, r.quietAfter = quiet, tail(console.String(), 1)
			}
			switch {
			case quiet >= g.quiet:
				r.hung = fmt.Sprintf("its console printed nothing for %v", quiet.Round(time.Second))
			case now.Sub(start) >= g.limit:
				r.hung = fmt.Sprintf("it ran for %v, the limit", g.limit)
			}
			if r.hung != "" {
				_ = cmd.Process.Kill()
				r.err = <-done
				ended = true
			}
		}
	}
	r.took = time.Since(start)
	r.console, r.log = console.String(), log.String()
	if q := time.Since(time.Unix(0, console.last.Load())); q > r.longestQuiet {
		r.longestQuiet, r.quietAfter = q, tail(r.console, 1)
	}
	return r
}

// bootLinux runs `vmm run args...` through the helper binary for a Linux
// guest and returns the console, the log and the exit status. It holds the
// Linux boot lock for the whole boot, so Linux boots in every test process
// on the machine take turns, and the hang guard starts only once the lock
// is held.
func bootLinux(t *testing.T, args ...string) (console, log string, status int) {
	t.Helper()
	testutil.LockLinuxBoot(t)
	argv := append([]string{"-test.run=^TestCheckHelperProcess$", "--", "run"}, args...)
	cmd := exec.Command(helperBinary(t), argv...)
	cmd.Env = append(os.Environ(), "VMM_CHECK_HELPER=1")
	r := runGuarded(cmd, linuxGuard)
	if r.hung != "" {
		t.Fatalf("vmm run %s hung: %s, so the test killed it after %v; last console lines:\n%s\nlog:\n%s",
			strings.Join(args, " "), r.hung, r.took.Round(time.Second), tail(r.console, 20), r.log)
	}
	var ee *exec.ExitError
	switch {
	case errors.As(r.err, &ee):
		status = ee.ExitCode()
	case r.err != nil:
		t.Fatalf("running vmm %v: %v", args, r.err)
	}
	if strings.Contains(r.log, "panic:") || strings.Contains(r.log, "WARNING: DATA RACE") {
		t.Fatalf("vmm crashed or raced:\n%s", r.log)
	}
	t.Logf("vmm %s ended with status %d after %v; longest console silence %v, after %q",
		strings.Join(args, " "), status, r.took.Round(time.Millisecond), r.longestQuiet.Round(time.Second), r.quietAfter)
	return r.console, r.log, status
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// TestHangGuard runs small shell scripts under short guards: a silent
// process and a chatty endless one are both killed, each for its own
// reason, and a process that ends in time is left alone.
func TestHangGuard(t *testing.T) {
	if _, err := exec.LookPath("sh"); err != nil {
		testutil.Missing(t, "sh is needed: %v", err)
	}
	for _, c := range []struct {
		name, script string
		guard        hangGuard
		hung         string // what the reason must say; "" for no kill
	}{
		{"goes quiet", "echo one; echo two >&2; exec sleep 600", hangGuard{quiet: 2 * time.Second, limit: time.Minute}, "printed nothing for"},
		{"prints forever", "while :; do echo tick; sleep 0.1; done", hangGuard{quiet: 30 * time.Second, limit: 3 * time.Second}, "the limit"},
		{"ends", "echo a; sleep 1; echo b; exit 3", hangGuard{quiet: 30 * time.Second, limit: time.Minute}, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := runGuarded(exec.Command("sh", "-c", c.script), c.guard)
			switch {
			case c.hung == "" && r.hung != "":
				t.Fatalf("killed a process that ended by itself: %s", r.hung)
			case c.hung != "" && !strings.Contains(r.hung, c.hung):
				t.Fatalf("guard reason %q, want one saying %q (err %v)", r.hung, c.hung, r.err)
			}
			var ee *exec.ExitError
			if c.hung == "" && (!errors.As(r.err, &ee) || ee.ExitCode() != 3 || r.console != "a\nb\n") {
				t.Fatalf("err %v, console %q: want exit 3 and both lines", r.err, r.console)
			}
			if c.name == "goes quiet" && (r.console != "one\n" || r.log != "two\n" || r.longestQuiet < c.guard.quiet) {
				t.Fatalf("console %q, log %q, longest silence %v", r.console, r.log, r.longestQuiet)
			}
		})
	}
}
