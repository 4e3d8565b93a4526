//go:build linux

package sandbox

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"vmm/internal/testutil"
)

// TestLandlockABI compares LandlockABI with the kernel's own answer to
// landlock_create_ruleset(NULL, 0, LANDLOCK_CREATE_RULESET_VERSION).
func TestLandlockABI(t *testing.T) {
	const createRulesetVersion = 1
	v, _, errno := unix.Syscall(unix.SYS_LANDLOCK_CREATE_RULESET, 0, 0, createRulesetVersion)
	want := int(v)
	if errno != 0 {
		want = 0
	}
	if got := LandlockABI(); got != want {
		t.Fatalf("LandlockABI() = %d; the kernel says %d (errno %v)", got, want, errno)
	}
	t.Logf("Landlock ABI %d", want)
}

// TestRestrictFiles confines a child to a read-only disk, a read-write
// disk, a write-only console and a socket it may remove, and checks what
// it can still reach, on threads started before and after.
func TestRestrictFiles(t *testing.T) {
	abi := LandlockABI()
	if abi == 0 {
		testutil.Missing(t, "the kernel has no Landlock (LandlockABI 0): a kernel with CONFIG_SECURITY_LANDLOCK and landlock in lsm=")
	}
	ro, rw, console, other := testFiles(t)
	sockDir := worldDir(t)
	sock := filepath.Join(sockDir, "api.sock")
	// An abstract socket and a process (this one) outside the child's
	// domain: ABI 6 scopes both away.
	abstract := "@vmm-landlock-test-" + strconv.Itoa(os.Getpid())
	l, err := net.Listen("unix", abstract)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()

	got := inChild(t, nil, "landlock", ro, rw, console, other, sock, abstract)
	want := outcomes{
		"abi":                            strconv.Itoa(abi),
		"restrict":                       "ok",
		"open file not given":            "EACCES",
		"open /etc/passwd":               "EACCES",
		"open /proc/self/status":         "EACCES",
		"open read-only for read":        "ok",
		"open read-only for write":       "EACCES",
		"open read-write for write":      "ok",
		"open console for write":         "ok",
		"open console for read":          "EACCES",
		"create a file beside the disks": "EACCES",
		"mkdir beside the disks":         "EACCES",
		"rename a disk":                  "EACCES",
		"unlink a file not given":        "EACCES",
		"unlink the socket":              "ok",
		"execve /bin/true":               "EACCES",
		"fd opened before: read":         "ok",
		"thread started before":          "EACCES",
		"thread started after":           "EACCES",
	}
	if _, err := os.Stat("/dev/kvm"); err == nil {
		want["fd opened before: KVM_GET_API_VERSION"] = "12"
	}
	if abi >= 4 {
		want["tcp bind"] = "EACCES"
		want["tcp connect"] = "EACCES"
	}
	if abi >= 6 {
		want["connect abstract socket outside"] = "EPERM"
		want["signal a process outside"] = "EPERM"
	}
	expect(t, got, want)
}

func landlockChild(args []string) outcomes {
	o := outcomes{}
	ro, rw, console, other, sock, abstract := args[0], args[1], args[2], args[3], args[4], args[5]
	dir := filepath.Dir(ro)

	// The API socket, bound before the sandbox as vmm run binds it.
	sfd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err == nil {
		err = unix.Bind(sfd, &unix.SockaddrUnix{Name: sock})
	}
	o.set("bind the socket", err)
	// Files open before the sandbox, as /dev/kvm and the disks are.
	pre, _ := os.Open(other)
	var kvm *os.File
	if _, err := os.Stat("/dev/kvm"); err == nil {
		kvm, _ = os.OpenFile("/dev/kvm", os.O_RDWR, 0)
	}
	// A thread that exists before the sandbox, like a vCPU's.
	start, done := make(chan struct{}), make(chan error)
	go func() {
		runtime.LockOSThread()
		<-start
		done <- openOutcome(other, unix.O_RDONLY)
	}()

	abi, err := RestrictFiles([]Path{{ro, AccessRead}, {rw, AccessRead | AccessWrite}, {console, AccessWrite}, {sock, AccessRemove}})
	o["abi"] = strconv.Itoa(abi)
	o.set("restrict", err)

	o.set("open file not given", openOutcome(other, unix.O_RDONLY))
	close(start)
	o.set("thread started before", <-done)
	go func() {
		runtime.LockOSThread() // and never unlocked: the thread dies with the goroutine
		done <- openOutcome(other, unix.O_RDONLY)
	}()
	o.set("thread started after", <-done)

	o.set("open /etc/passwd", openOutcome("/etc/passwd", unix.O_RDONLY))
	o.set("open /proc/self/status", openOutcome("/proc/self/status", unix.O_RDONLY))
	o.set("open read-only for read", openOutcome(ro, unix.O_RDONLY))
	o.set("open read-only for write", openOutcome(ro, unix.O_WRONLY))
	o.set("open read-write for write", openOutcome(rw, unix.O_RDWR))
	o.set("open console for write", openOutcome(console, unix.O_WRONLY|unix.O_APPEND))
	o.set("open console for read", openOutcome(console, unix.O_RDONLY))
	o.set("create a file beside the disks", openOutcome(filepath.Join(dir, "new"), unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL))
	o.set("mkdir beside the disks", unix.Mkdir(filepath.Join(dir, "newdir"), 0o755))
	o.set("rename a disk", unix.Rename(ro, filepath.Join(dir, "ro2.img")))
	o.set("unlink a file not given", unix.Unlink(other))
	o.set("unlink the socket", unix.Unlink(sock))
	o.set("execve /bin/true", exec.Command("/bin/true").Run())

	if pre != nil {
		_, err := pre.Read(make([]byte, 4))
		o.set("fd opened before: read", err)
	}
	if kvm != nil {
		v, err := unix.IoctlRetInt(int(kvm.Fd()), 0xae00) // KVM_GET_API_VERSION
		o["fd opened before: KVM_GET_API_VERSION"] = strconv.Itoa(v)
		if err != nil {
			o.set("fd opened before: KVM_GET_API_VERSION", err)
		}
	}

	tfd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err == nil {
		o.set("tcp bind", unix.Bind(tfd, &unix.SockaddrInet4{Port: 0, Addr: [4]byte{127, 0, 0, 1}}))
		unix.Close(tfd)
	}
	tfd, err = unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err == nil {
		o.set("tcp connect", unix.Connect(tfd, &unix.SockaddrInet4{Port: 1, Addr: [4]byte{127, 0, 0, 1}}))
		unix.Close(tfd)
	}
	afd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err == nil {
		o.set("connect abstract socket outside", unix.Connect(afd, &unix.SockaddrUnix{Name: abstract}))
		unix.Close(afd)
	}
	o.set("signal a process outside", unix.Kill(os.Getppid(), 0))
	return o
}

// TestRestrictFilesRefusesBadPaths checks that a path that does not exist
// or an empty access is an error that names it, and restricts nothing.
func TestRestrictFilesRefusesBadPaths(t *testing.T) {
	if LandlockABI() == 0 {
		testutil.Missing(t, "the kernel has no Landlock (LandlockABI 0): a kernel with CONFIG_SECURITY_LANDLOCK and landlock in lsm=")
	}
	missing := filepath.Join(t.TempDir(), "missing.img")
	got := inChild(t, nil, "landlock-bad", missing)
	expect(t, got, outcomes{"missing": "ENOENT", "no access": "error", "open /etc/passwd after": "ok"})
	if !strings.Contains(got["missing message"], missing) || !strings.Contains(got["missing message"], "only allow a path that exists") {
		t.Errorf("missing path: message %q should name the path and say why", got["missing message"])
	}
	if !strings.Contains(got["no access message"], "read, write and remove") {
		t.Errorf("no access: message %q", got["no access message"])
	}
}

func landlockBadChild(args []string) outcomes {
	o := outcomes{}
	_, err := RestrictFiles([]Path{{args[0], AccessRead}})
	o.set("missing", err)
	if err != nil {
		o["missing message"] = err.Error()
	}
	_, err = RestrictFiles([]Path{{"/etc/passwd", 0}})
	o["no access"] = "ok"
	if err != nil {
		o["no access"], o["no access message"] = "error", err.Error()
	}
	o.set("open /etc/passwd after", openOutcome("/etc/passwd", unix.O_RDONLY))
	return o
}

// TestRestrictFilesDirectory grants a directory read, write and remove,
// which is what writing a file atomically there needs (create a temporary
// file, write it, rename it over the old one: --result-json does so at
// exit), and checks that is all it grants.
func TestRestrictFilesDirectory(t *testing.T) {
	if LandlockABI() == 0 {
		testutil.Missing(t, "the kernel has no Landlock (LandlockABI 0): a kernel with CONFIG_SECURITY_LANDLOCK and landlock in lsm=")
	}
	dir := worldDir(t)
	result := filepath.Join(dir, "result.json")
	if err := os.WriteFile(result, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, _, _, other := testFiles(t)
	got := inChild(t, nil, "landlock-dir", dir, result, other)
	expect(t, got, outcomes{
		"restrict":            "ok",
		"write atomically":    "ok",
		"content":             "new",
		"mkdir":               "EACCES",
		"make a fifo":         "EACCES",
		"open a file outside": "EACCES",
	})
}

func landlockDirChild(args []string) outcomes {
	o := outcomes{}
	dir, result, other := args[0], args[1], args[2]
	_, err := RestrictFiles([]Path{{dir, AccessRead | AccessWrite | AccessRemove}})
	o.set("restrict", err)
	o.set("write atomically", func() error {
		tmp, err := os.CreateTemp(dir, ".result.json.*")
		if err != nil {
			return err
		}
		defer os.Remove(tmp.Name())
		if _, err := tmp.WriteString("new"); err != nil {
			return err
		}
		if err := tmp.Close(); err != nil {
			return err
		}
		return os.Rename(tmp.Name(), result)
	}())
	b, err := os.ReadFile(result)
	o["content"] = string(b)
	if err != nil {
		o.set("content", err)
	}
	o.set("mkdir", unix.Mkdir(filepath.Join(dir, "sub"), 0o755))
	o.set("make a fifo", unix.Mkfifo(filepath.Join(dir, "fifo"), 0o600))
	o.set("open a file outside", openOutcome(other, unix.O_RDONLY))
	return o
}
