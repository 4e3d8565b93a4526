//go:build linux

package sandbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"vmm/internal/testutil"
)

// The sandbox cannot be undone, so every test that installs it does so in
// a child: the test binary run again with filesChildEnv naming what to do.
// The child tries things, reports each outcome ("ok" or the errno's name)
// as JSON on stdout, and the parent asserts them.

const (
	filesChildEnv     = "VMM_SANDBOX_FILES_CHILD"
	filesChildArgsEnv = "VMM_SANDBOX_FILES_ARGS"
)

// filesChildren are the children's entry points by name.
var filesChildren = map[string]func(args []string) outcomes{
	"escape":         escapeChild,
	"landlock":       landlockChild,
	"landlock-bad":   landlockBadChild,
	"landlock-dir":   landlockDirChild,
	"drop":           dropChild,
	"drop-keep-root": dropKeepRootChild,
	"drop-nonroot":   dropNonrootChild,
	"bounding-early": boundingEarlyChild,
}

// outcomes maps an attempt to what happened.
type outcomes map[string]string

// set records err as "ok" or the errno's name (the whole message if it
// is not an errno).
func (o outcomes) set(name string, err error) {
	var errno syscall.Errno
	switch {
	case err == nil:
		o[name] = "ok"
	case errors.As(err, &errno):
		o[name] = unix.ErrnoName(errno)
	default:
		o[name] = err.Error()
	}
}

// runFilesChild runs the child named by filesChildEnv, prints its
// outcomes and exits; it returns at once in the parent.
func runFilesChild() {
	name := os.Getenv(filesChildEnv)
	if name == "" {
		return
	}
	f, ok := filesChildren[name]
	if !ok {
		fmt.Fprintf(os.Stderr, "no child %q\n", name)
		os.Exit(3)
	}
	var args []string
	if err := json.Unmarshal([]byte(os.Getenv(filesChildArgsEnv)), &args); err != nil {
		fmt.Fprintf(os.Stderr, "child %s: arguments: %v\n", name, err)
		os.Exit(3)
	}
	if err := json.NewEncoder(os.Stdout).Encode(f(args)); err != nil {
		os.Exit(3)
	}
	os.Exit(0)
}

// inChild runs the named child with args and returns its outcomes; cmd,
// when not nil, is the command to run (for extra files or credentials).
func inChild(t *testing.T, cmd *exec.Cmd, name string, args ...string) outcomes {
	t.Helper()
	if cmd == nil {
		cmd = exec.Command(os.Args[0])
	}
	cmd.Args = []string{cmd.Path, "-test.run=^$"}
	a, _ := json.Marshal(args)
	cmd.Env = append(os.Environ(), filesChildEnv+"="+name, filesChildArgsEnv+"="+string(a))
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("child %s: %v\nstderr:\n%s", name, err, stderr.String())
	}
	var o outcomes
	if err := json.Unmarshal(out, &o); err != nil {
		t.Fatalf("child %s: output %q: %v\nstderr:\n%s", name, out, err, stderr.String())
	}
	return o
}

// expect compares the outcomes with want, naming every difference.
func expect(t *testing.T, got outcomes, want outcomes) {
	t.Helper()
	for k, w := range want {
		if g, ok := got[k]; !ok {
			t.Errorf("%s: not tried", k)
		} else if g != w {
			t.Errorf("%s: got %s, want %s", k, g, w)
		}
	}
}

// openOutcome opens path with flags and closes it.
func openOutcome(path string, flags int) error {
	fd, err := unix.Open(path, flags|unix.O_CLOEXEC, 0o600)
	if err == nil {
		unix.Close(fd)
	}
	return err
}

// testFiles makes a read-only disk, a read-write disk, a console file and
// a file the sandbox is not given, in a fresh directory.
// The directory and files are open to every user, so that what refuses
// an access after a drop to uid 65534 is the sandbox, not the file modes.
func testFiles(t *testing.T) (ro, rw, console, other string) {
	dir := worldDir(t)
	ro, rw, console, other = filepath.Join(dir, "ro.img"), filepath.Join(dir, "rw.img"), filepath.Join(dir, "console.log"), filepath.Join(dir, "other")
	for _, p := range []string{ro, rw, console, other} {
		if err := os.WriteFile(p, []byte("data"), 0o666); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, 0o666); err != nil { // past the umask
			t.Fatal(err)
		}
	}
	return
}

// worldDir is a temporary directory every user can enter and write.
func worldDir(t *testing.T) string {
	dir := t.TempDir()
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(d, 0o777); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestEscapeFiles installs the file and privilege layers as vmm run does
// (privileges first, then Landlock) and tries to get out.
func TestEscapeFiles(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: it drops to uid 65534 as vmm run --uid does")
	}
	if LandlockABI() == 0 {
		testutil.Missing(t, "the kernel has no Landlock (LandlockABI 0): a kernel with CONFIG_SECURITY_LANDLOCK and landlock in lsm=")
	}
	ro, rw, console, other := testFiles(t)
	got := inChild(t, nil, "escape", ro, rw, console, other)
	want := outcomes{
		"drop":                     "ok",
		"restrict":                 "ok",
		"open file not given":      "EACCES",
		"open /etc/passwd":         "EACCES",
		"open read-only for write": "EACCES",
		"open read-only for read":  "ok",
		"open read-write":          "ok",
		"link a disk":              "EACCES",
		"execve /bin/true":         "EACCES",
		"ptrace the parent":        "EPERM",
		"setuid(0)":                "EPERM",
		"setgid(0)":                "EPERM",
	}
	if _, err := os.Stat("/dev/kvm"); err == nil {
		want["open /dev/kvm again"] = "EACCES"
	}
	expect(t, got, want)
}

func escapeChild(args []string) outcomes {
	o := outcomes{}
	ro, rw, console, other := args[0], args[1], args[2], args[3]
	o.set("drop", DropPrivileges(65534, 65534))
	_, err := RestrictFiles([]Path{{ro, AccessRead}, {rw, AccessRead | AccessWrite}, {console, AccessWrite}})
	o.set("restrict", err)
	o.set("open file not given", openOutcome(other, unix.O_RDONLY))
	o.set("open /etc/passwd", openOutcome("/etc/passwd", unix.O_RDONLY))
	o.set("open read-only for write", openOutcome(ro, unix.O_RDWR))
	o.set("open read-only for read", openOutcome(ro, unix.O_RDONLY))
	o.set("open read-write", openOutcome(rw, unix.O_RDWR))
	o.set("link a disk", unix.Link(rw, filepath.Join(filepath.Dir(rw), "rw2.img")))
	o.set("execve /bin/true", exec.Command("/bin/true").Run())
	o.set("ptrace the parent", unix.PtraceAttach(os.Getppid()))
	o.set("open /dev/kvm again", openOutcome("/dev/kvm", unix.O_RDWR))
	o.set("setuid(0)", syscall.Setuid(0))
	o.set("setgid(0)", syscall.Setgid(0))
	return o
}
