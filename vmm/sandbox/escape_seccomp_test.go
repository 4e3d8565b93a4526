package sandbox

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"vmm/internal/testutil"
	"vmm/iouring"
)

// escapeEnv names the escape a re-executed test binary attempts;
// escapeModeEnv overrides --seccomp (default kill).
const (
	escapeEnv     = "VMM_SANDBOX_ESCAPE"
	escapeModeEnv = "VMM_SANDBOX_MODE"
)

// TestMain runs an escape attempt when re-executed with escapeEnv set:
// the sandbox goes into the child only, as vmm run installs it, so the
// test process itself stays free.
func TestMain(m *testing.M) {
	runFilesChild() // escape_files_test.go's children exit here
	if name := os.Getenv(escapeEnv); name != "" {
		os.Exit(runEscape(name))
	}
	if os.Getenv(terminalEnv) != "" {
		os.Exit(runTerminalEscape())
	}
	if mode := os.Getenv(benchEnv); mode != "" {
		os.Exit(runSyscallBench(mode))
	}
	os.Exit(m.Run())
}

// escapes are the attempts, each a raw system call a hijacked VMM would
// make. setup runs before the sandbox (io_uring: the ring vmm run would
// already hold). A call that returns prints its result and exits 0.
var escapes = map[string]struct {
	setup   func() (any, error)
	attempt func(state any) error
}{
	"execve": {attempt: func(any) error {
		argv := []string{"/bin/true"}
		return unix.Exec(argv[0], argv, nil)
	}},
	"socket": {attempt: func(any) error {
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM, 0)
		return fdResult(fd, err)
	}},
	"openat": {attempt: func(any) error {
		fd, err := unix.Openat(unix.AT_FDCWD, "/etc/hostname", unix.O_RDONLY, 0)
		return fdResult(fd, err)
	}},
	"ptrace": {
		setup:   func() (any, error) { return os.Getppid(), nil },
		attempt: func(ppid any) error { return unix.PtraceAttach(ppid.(int)) }},
	"tgkill": {
		// Signal 0 only checks that the signal could be sent: still refused.
		setup:   func() (any, error) { return os.Getppid(), nil },
		attempt: func(ppid any) error { return unix.Tgkill(ppid.(int), ppid.(int), 0) }},
	"mmap": {attempt: func(any) error {
		// Executable memory for shellcode.
		_, err := unix.Mmap(-1, 0, 4096, unix.PROT_READ|unix.PROT_WRITE|unix.PROT_EXEC, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
		return err
	}},
	"io_uring_setup": {attempt: func(any) error {
		r, err := iouring.Setup(4, &iouring.Params{})
		if err == nil {
			r.Close()
		}
		return err
	}},
	"io_uring_register": {
		// The ring and the file are vmm's before start; the escape is
		// pointing the ring at a file it was not set up with.
		setup: func() (any, error) {
			r, err := iouring.Setup(4, &iouring.Params{})
			if err != nil {
				return nil, err
			}
			f, err := os.Open("/proc/self/exe")
			return ringAndFile{r, f}, err
		},
		attempt: func(state any) error {
			s := state.(ringAndFile)
			return s.ring.RegisterFiles([]int32{int32(s.file.Fd())})
		}},
}

type ringAndFile struct {
	ring *iouring.Ring
	file *os.File
}

func fdResult(fd int, err error) error {
	if err == nil {
		unix.Close(fd)
	}
	return err
}

// runEscape is the child: set up, install the sandbox, attempt.
func runEscape(name string) int {
	e, ok := escapes[name]
	if !ok {
		fmt.Fprintf(os.Stderr, "unknown escape %q\n", name)
		return 3
	}
	var state any
	if e.setup != nil {
		var err error
		if state, err = e.setup(); err != nil {
			fmt.Fprintf(os.Stderr, "setup: %v\n", err)
			return 3
		}
	}
	mode := SeccompKill
	if m := os.Getenv(escapeModeEnv); m != "" {
		mode = SeccompMode(m)
	}
	if _, err := Install(Config{Seccomp: mode, Landlock: true, UID: -1, GID: -1}); err != nil {
		fmt.Fprintf(os.Stderr, "install: %v\n", err)
		return 3
	}
	err := e.attempt(state)
	var errno unix.Errno
	if errors.As(err, &errno) {
		fmt.Fprintf(os.Stderr, "returned errno %d (%v)\n", int(errno), err)
	} else {
		fmt.Fprintf(os.Stderr, "returned %v\n", err)
	}
	return 0
}

// refusedWithEPERM are the escapes the filter answers EPERM
// (refusedOpens) rather than ending the process.
var refusedWithEPERM = map[string]bool{"openat": true}

// Each escape, in a child with the sandbox installed as vmm run installs
// it (--seccomp=kill), is refused before the kernel runs it: the SIGSYS
// handler prints the one-line message naming the call and the process
// exits 1; opening a file fails with EPERM instead. A call that returned
// anything else fails the test.
func TestSeccompEscapes(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	for name := range escapes {
		t.Run(name, func(t *testing.T) {
			cmd := exec.Command(exe, "-test.run=^$")
			cmd.Env = append(os.Environ(), escapeEnv+"="+name)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			err := cmd.Run()
			if refusedWithEPERM[name] {
				if err != nil || stderr.String() != fmt.Sprintf("returned errno %d (%v)\n", unix.EPERM, unix.EPERM) {
					t.Fatalf("%s: child ended %v with stderr %q, want the call to fail with EPERM", name, err, stderr.String())
				}
				return
			}
			var ee *exec.ExitError
			if !errors.As(err, &ee) {
				t.Fatalf("%s: child ended %v, want exit status 1; stderr:\n%s", name, err, stderr.String())
			}
			// Under the race detector a detector thread (all signals
			// blocked) may hit the filter too, and a SIGSYS the kernel
			// cannot deliver kills the process: the message must still be
			// there.
			killedBySIGSYS := raceEnabled && ee.Sys().(syscall.WaitStatus).Signal() == syscall.SIGSYS
			if ee.ExitCode() != 1 && !killedBySIGSYS {
				t.Fatalf("%s: child ended %v, want exit status 1; stderr:\n%s", name, err, stderr.String())
			}
			want := fmt.Sprintf("vmm: the sandbox blocked system call %s (", name)
			first, _, _ := strings.Cut(stderr.String(), "\n")
			if !strings.HasPrefix(first, want) || (!raceEnabled && strings.Count(stderr.String(), "\n") != 1) {
				t.Fatalf("%s: stderr %q, want one line starting %q", name, stderr.String(), want)
			}
		})
	}
}

// Under --seccomp=log a call off the list runs, and the kernel log names
// it for that pid: what TestSeccompAllowListInSync (cmd/vmm) relies on to
// find a missing syscall, checked here with one that is surely missing.
func TestSeccompLogModeLogsTheCall(t *testing.T) {
	klog := testutil.OpenSeccompLog(t)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	// The kernel may drop a record under its printk rate limit (other
	// processes' records count too): try again after the window.
	var nrs []string
	for attempt := 1; ; attempt++ {
		cmd := exec.Command(exe, "-test.run=^$")
		cmd.Env = append(os.Environ(), escapeEnv+"=socket", escapeModeEnv+"=log")
		out, err := cmd.CombinedOutput()
		if err != nil || string(out) != "returned <nil>\n" {
			t.Fatalf("socket under --seccomp=log: %v, output %q; want it to succeed", err, out)
		}
		var ok bool
		if nrs, ok = klog.WaitFor(t, cmd.Process.Pid, testutil.RateLimitWindow); ok {
			break
		}
		if attempt == 4 {
			t.Fatalf("the kernel log never showed a seccomp record (type=1326) for the child in %d tries", attempt)
		}
	}
	if !slices.Contains(nrs, strconv.Itoa(unix.SYS_SOCKET)) {
		t.Fatalf("kernel log for the child names syscalls %v, not socket (%d)", nrs, unix.SYS_SOCKET)
	}
}
