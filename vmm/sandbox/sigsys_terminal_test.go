package sandbox

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
	"golang.org/x/term"
)

// terminalEnv makes a re-executed test binary put its fd 3 (a terminal)
// in raw mode as vmm's console does, register it with
// RestoreTerminalOnBlock, install the sandbox and make a refused call.
const terminalEnv = "VMM_SANDBOX_TERMINAL"

func runTerminalEscape() int {
	const fd = 3
	saved, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 3
	}
	if _, err := term.MakeRaw(fd); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 3
	}
	RestoreTerminalOnBlock(fd, saved)
	if _, err := Install(Config{Seccomp: SeccompKill, UID: -1, GID: -1}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 3
	}
	_, err = unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	fmt.Fprintf(os.Stderr, "returned %v\n", err)
	return 0
}

// openPTY returns a new pseudo-terminal's other end (the one a program
// runs on); the master is closed with the test.
func openPTY(t *testing.T) *os.File {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	t.Cleanup(func() { m.Close() })
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// A refused call ends vmm through the SIGSYS handler, which skips every
// deferred clean-up: it must still put a raw terminal back.
func TestSeccompKillRestoresTheTerminal(t *testing.T) {
	pty := openPTY(t)
	before, err := unix.IoctlGetTermios(int(pty.Fd()), unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), terminalEnv+"=1")
	cmd.ExtraFiles = []*os.File{pty}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err = cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 || !strings.HasPrefix(stderr.String(), "vmm: the sandbox blocked system call socket (") {
		t.Fatalf("child ended %v with stderr %q; want exit 1 and the message", err, stderr.String())
	}
	after, err := unix.IoctlGetTermios(int(pty.Fd()), unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	if after.Lflag != before.Lflag || after.Iflag != before.Iflag || after.Oflag != before.Oflag || after.Cflag != before.Cflag {
		t.Fatalf("terminal left as %+v, want it back to %+v", *after, *before)
	}
}
