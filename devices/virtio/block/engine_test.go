package block

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"vmm/internal/testutil"
)

func TestNewBackendEngines(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "disk.img"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	kick, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(kick)
	opts := Options{QueueSize: 16}
	cases := []struct{ engine, name, why string }{
		{EngineUring, "io_uring", "io_uring (asked for)"},
		{EngineSync, "sync", "sync (asked for)"},
		{EngineAuto, "io_uring", "io_uring"},
	}
	for _, c := range cases {
		b, why, err := NewBackend(c.engine, f, kick, opts)
		if err != nil {
			if c.engine != EngineSync && uringUnavailable(err) {
				testutil.Missing(t, "io_uring unavailable: %v", err)
			}
			t.Fatalf("engine %q: %v", c.engine, err)
		}
		if b.Name() != c.name || why != c.why {
			t.Errorf("engine %q: %s (%q), want %s (%q)", c.engine, b.Name(), why, c.name, c.why)
		}
		if err := b.Close(); err != nil {
			t.Error(err)
		}
	}
	if _, _, err := NewBackend("aio", f, kick, opts); err == nil || !strings.Contains(err.Error(), `"aio"`) {
		t.Errorf("unknown engine: %v", err)
	}
	// A bad option is not "io_uring unavailable": no fallback.
	if _, _, err := NewBackend(EngineAuto, f, kick, Options{}); err == nil {
		t.Error("QueueSize 0 accepted")
	}
}

// fallbackChildEnv makes the test binary, re-run by TestNewBackendFallback,
// deny io_uring_setup with the named errno and report what NewBackend does.
const fallbackChildEnv = "VMM_BLOCK_FALLBACK_CHILD"

// With io_uring_setup refused by a seccomp filter (ENOSYS, EPERM, EACCES)
// the automatic choice falls back to the sync backend and says why; asking
// for io_uring explicitly fails; other errnos are not taken for "io_uring
// unavailable". Each case runs in a child process, since a seccomp filter
// cannot be removed.
func TestNewBackendFallback(t *testing.T) {
	if name := os.Getenv(fallbackChildEnv); name != "" {
		fallbackChild(t, name)
		return
	}
	if runtime.GOARCH != "amd64" {
		t.Skip("the seccomp filter here is written for x86-64")
	}
	cases := []struct {
		errno  string
		output string // what the child prints
	}{
		{"ENOSYS", "auto=sync"},
		{"EPERM", "auto=sync"},
		{"EACCES", "auto=sync"},
		{"EINVAL", "auto=error"},
	}
	for _, c := range cases {
		t.Run(c.errno, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestNewBackendFallback$", "-test.v", "-test.count=1")
			cmd.Env = append(os.Environ(), fallbackChildEnv+"="+c.errno)
			out, err := cmd.CombinedOutput()
			if strings.Contains(string(out), "SECCOMP-UNAVAILABLE") {
				testutil.Missing(t, "seccomp filters unavailable: %s", out)
			}
			if err != nil || !strings.Contains(string(out), "RESULT "+c.output+" ") {
				t.Fatalf("child (%v) output:\n%s\nwant RESULT %s", err, out, c.output)
			}
			t.Logf("%s", grepLine(string(out), "RESULT"))
		})
	}
}

func grepLine(s, prefix string) string {
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), prefix) {
			return strings.TrimSpace(l)
		}
	}
	return ""
}

func fallbackChild(t *testing.T, name string) {
	errnos := map[string]unix.Errno{"ENOSYS": unix.ENOSYS, "EPERM": unix.EPERM, "EACCES": unix.EACCES, "EINVAL": unix.EINVAL}
	errno, ok := errnos[name]
	if !ok {
		t.Fatalf("unknown errno %q", name)
	}
	f, err := os.Create(filepath.Join(t.TempDir(), "disk.img"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	kick, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		t.Fatal(err)
	}
	if err := denySyscall(unix.SYS_IO_URING_SETUP, errno); err != nil {
		fmt.Println("SECCOMP-UNAVAILABLE", err)
		return
	}
	opts := Options{QueueSize: 8}
	if _, _, err := NewBackend(EngineUring, f, kick, opts); err == nil {
		t.Fatal("engine uring succeeded under the filter")
	}
	b, why, err := NewBackend(EngineAuto, f, kick, opts)
	if err != nil {
		fmt.Printf("RESULT auto=error %v\n", err)
		return
	}
	defer b.Close()
	if !strings.Contains(why, errno.Error()) {
		t.Errorf("reason %q does not name the errno (%v)", why, errno)
	}
	// The fallback backend works.
	if err := b.Start(1, &Request{Type: TypeFlush}); err != nil {
		t.Fatal(err)
	}
	got, _, err := b.Wait(make([]Completion, 0, 1), true)
	if err != nil || len(got) != 1 || got[0].Result != 0 {
		t.Fatalf("FLUSH on the fallback: %v %v", got, err)
	}
	fmt.Printf("RESULT auto=%s %s\n", b.Name(), why)
}
