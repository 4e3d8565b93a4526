//go:build linux

package sandbox

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// TestDropPrivileges drops a root child to 65534:65534 while it has
// several threads parked (as vCPU threads would be), then checks every
// thread and tries to get privileges back.
func TestDropPrivileges(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: it drops to uid 65534 as vmm run --uid does")
	}
	secret := filepath.Join(worldDir(t), "root-only")
	if err := os.WriteFile(secret, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	// An fd inherited without close-on-exec (ExtraFiles are passed so).
	leak, err := os.Open(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	defer leak.Close()
	cmd := exec.Command(os.Args[0])
	cmd.ExtraFiles = []*os.File{leak}
	got := inChild(t, cmd, "drop", secret)
	expect(t, got, outcomes{
		"inherited fd 3 close-on-exec before": "no",
		"ambient capability raised before":    "ok",
		"drop":                                "ok",
		"several threads":                     "yes",
		"capabilities":                        "none on any thread",
		"no_new_privs":                        "1 on every thread",
		"uids":                                "65534 on every thread",
		"gids":                                "65534 on every thread",
		"groups":                              "none on any thread",
		"dumpable":                            "0",
		"RLIMIT_CORE":                         "0/0",
		"RLIMIT_NOFILE":                       "open fds + margin, soft = hard",
		"inherited fd 3 close-on-exec after":  "yes",
		"setuid(0)":                           "EPERM",
		"setgid(0)":                           "EPERM",
		"setgroups([0])":                      "EPERM",
		"raise RLIMIT_CORE":                   "EPERM",
		"raise RLIMIT_NOFILE":                 "EPERM",
		"open a root-only file":               "EACCES",
		"unset no_new_privs":                  "EINVAL",
	})
}

func dropChild(args []string) outcomes {
	o := outcomes{}
	ready := make(chan struct{})
	for i := 0; i < 3; i++ {
		go func() { // a thread parked in a system call, as a vCPU in KVM_RUN
			runtime.LockOSThread()
			var p [2]int
			_ = unix.Pipe2(p[:], unix.O_CLOEXEC)
			ready <- struct{}{}
			unix.Read(p[0], make([]byte, 1))
		}()
		<-ready
	}
	o["inherited fd 3 close-on-exec before"] = closeOnExec(3)
	o.set("ambient capability raised before", raiseAmbient(unix.CAP_NET_BIND_SERVICE))
	open := countFDs()

	o.set("drop", DropPrivileges(65534, 65534))

	threads := threadStatus()
	o["several threads"] = map[bool]string{true: "yes", false: fmt.Sprintf("only %d", len(threads))}[len(threads) >= 4]
	o["capabilities"] = everyThread(threads, "none on any thread", func(s map[string]string) bool {
		for _, k := range []string{"CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"} {
			if n, err := strconv.ParseUint(s[k], 16, 64); err != nil || n != 0 {
				return false
			}
		}
		return true
	})
	o["no_new_privs"] = everyThread(threads, "1 on every thread", func(s map[string]string) bool { return s["NoNewPrivs"] == "1" })
	o["uids"] = everyThread(threads, "65534 on every thread", func(s map[string]string) bool { return s["Uid"] == "65534\t65534\t65534\t65534" })
	o["gids"] = everyThread(threads, "65534 on every thread", func(s map[string]string) bool { return s["Gid"] == "65534\t65534\t65534\t65534" })
	o["groups"] = everyThread(threads, "none on any thread", func(s map[string]string) bool { return s["Groups"] == "" })
	d, err := unix.PrctlRetInt(unix.PR_GET_DUMPABLE, 0, 0, 0, 0)
	o["dumpable"] = strconv.Itoa(d)
	if err != nil {
		o.set("dumpable", err)
	}
	var lim unix.Rlimit
	unix.Getrlimit(unix.RLIMIT_CORE, &lim)
	o["RLIMIT_CORE"] = fmt.Sprintf("%d/%d", lim.Cur, lim.Max)
	unix.Getrlimit(unix.RLIMIT_NOFILE, &lim)
	o["RLIMIT_NOFILE"] = fmt.Sprintf("%d/%d with %d open", lim.Cur, lim.Max, open)
	if lim.Cur == uint64(open+NofileMargin) && lim.Max == lim.Cur {
		o["RLIMIT_NOFILE"] = "open fds + margin, soft = hard"
	}
	o["inherited fd 3 close-on-exec after"] = closeOnExec(3)

	o.set("setuid(0)", syscall.Setuid(0))
	o.set("setgid(0)", syscall.Setgid(0))
	o.set("setgroups([0])", syscall.Setgroups([]int{0}))
	o.set("raise RLIMIT_CORE", unix.Setrlimit(unix.RLIMIT_CORE, &unix.Rlimit{Cur: 1 << 30, Max: 1 << 30}))
	o.set("raise RLIMIT_NOFILE", unix.Setrlimit(unix.RLIMIT_NOFILE, &unix.Rlimit{Cur: lim.Max + 1, Max: lim.Max + 1}))
	o.set("open a root-only file", openOutcome(args[0], unix.O_RDONLY))
	o.set("unset no_new_privs", unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 0, 0, 0, 0))
	return o
}

// TestDropPrivilegesKeepingRoot drops with uid and gid -1 as root: the
// ids stay 0 but every capability goes, so root's files are still root's
// and nobody else's are reachable.
func TestDropPrivilegesKeepingRoot(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: it checks that root without capabilities is refused")
	}
	theirs := nobodysFile(t)
	got := inChild(t, nil, "drop-keep-root", theirs, filepath.Join(filepath.Dir(theirs), "node"))
	expect(t, got, outcomes{
		"ambient capability raised before": "ok",
		"drop":                             "ok",
		"uids":                             "0 on every thread",
		"capabilities":                     "none on any thread",
		"open another user's file":         "EACCES",
		"chown it":                         "EPERM",
		"mknod":                            "EPERM",
	})
}

func dropKeepRootChild(args []string) outcomes {
	o := outcomes{}
	o.set("ambient capability raised before", raiseAmbient(unix.CAP_NET_BIND_SERVICE))
	o.set("drop", DropPrivileges(-1, -1))
	threads := threadStatus()
	o["uids"] = everyThread(threads, "0 on every thread", func(s map[string]string) bool { return s["Uid"] == "0\t0\t0\t0" })
	o["capabilities"] = everyThread(threads, "none on any thread", func(s map[string]string) bool {
		return s["CapInh"]+s["CapPrm"]+s["CapEff"]+s["CapBnd"]+s["CapAmb"] == strings.Repeat("0", 5*16)
	})
	o.set("open another user's file", openOutcome(args[0], unix.O_RDONLY))
	o.set("chown it", unix.Chown(args[0], 0, 0))
	o.set("mknod", unix.Mknod(args[1], unix.S_IFCHR|0o600, int(unix.Mkdev(1, 3))))
	return o
}

// TestDropPrivilegesNotRoot starts the child as uid 65534: it drops what
// it has (no_new_privs, limits; the bounding set stays, which needs
// CAP_SETPCAP to change) and --uid/--gid are refused with a reason.
func TestDropPrivilegesNotRoot(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to start a child as uid 65534")
	}
	// The test binary sits in a directory only root can enter: copy it.
	bin := filepath.Join(worldDir(t), "sandbox.test")
	src, err := os.Open(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := os.OpenFile(bin, os.O_WRONLY|os.O_CREATE, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		t.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	got := inChild(t, cmd, "drop-nonroot")
	expect(t, got, outcomes{
		"drop":              "ok",
		"no_new_privs":      "1 on every thread",
		"capabilities":      "none but the bounding set",
		"bounding set":      "kept",
		"drop to uid 0":     "error",
		"drop to uid 0 why": "names --uid and root",
	})
}

func dropNonrootChild(args []string) outcomes {
	o := outcomes{}
	o.set("ambient capability raised before", raiseAmbient(unix.CAP_NET_BIND_SERVICE))
	o.set("drop", DropPrivileges(-1, -1))
	threads := threadStatus()
	o["no_new_privs"] = everyThread(threads, "1 on every thread", func(s map[string]string) bool { return s["NoNewPrivs"] == "1" })
	o["capabilities"] = everyThread(threads, "none but the bounding set", func(s map[string]string) bool {
		return s["CapInh"]+s["CapPrm"]+s["CapEff"]+s["CapAmb"] == strings.Repeat("0", 4*16)
	})
	o["bounding set"] = everyThread(threads, "kept", func(s map[string]string) bool { return strings.Trim(s["CapBnd"], "0") != "" })
	err := DropPrivileges(0, 0)
	o["drop to uid 0"], o["drop to uid 0 why"] = "ok", ""
	if err != nil {
		o["drop to uid 0"], o["drop to uid 0 why"] = "error", err.Error()
		if strings.Contains(err.Error(), "--uid/--gid need vmm to start as root") {
			o["drop to uid 0 why"] = "names --uid and root"
		}
	}
	return o
}

// TestReadState checks ReadState against this (unsandboxed) process.
func TestReadState(t *testing.T) {
	s, err := ReadState()
	if err != nil {
		t.Fatal(err)
	}
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	if s.Threads < 1 || !strings.Contains(string(status), fmt.Sprintf("CapEff:\t%016x\n", s.CapEff)) || s.CoreLimit == 0 && s.NofileLimit == 0 {
		t.Fatalf("ReadState = %s; /proc/self/status:\n%s", s, status)
	}
	if !strings.Contains(s.String(), "no_new_privs") {
		t.Errorf("String() = %q", s)
	}
}

// raiseAmbient puts capability c in this thread's inheritable and
// ambient sets (a thread lock held for good: the sets are the thread's),
// so that the drop has an ambient capability to clear.
func raiseAmbient(c int) error {
	runtime.LockOSThread()
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return err
	}
	data[c/32].Inheritable |= 1 << (c % 32)
	if err := unix.Capset(&hdr, &data[0]); err != nil {
		return err
	}
	if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_RAISE, uintptr(c), 0, 0); err != nil {
		return err
	}
	if !strings.Contains(threadStatusOf(unix.Gettid())["CapAmb"], "400") {
		return fmt.Errorf("CapAmb did not change")
	}
	return nil
}

// closeOnExec says whether fd has FD_CLOEXEC.
func closeOnExec(fd int) string {
	flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
	switch {
	case err != nil:
		return err.Error()
	case flags&unix.FD_CLOEXEC != 0:
		return "yes"
	}
	return "no"
}

// countFDs counts the open fds. It opens the directory with os.Open, as
// DropPrivileges does, which starts the runtime's poller (two fds) the
// first time: a VMM has it running long before.
func countFDs() int {
	d, err := os.Open("/proc/self/fd")
	if err != nil {
		return -1
	}
	defer d.Close()
	names, _ := d.Readdirnames(-1)
	return len(names) - 1 // the directory's own fd
}

// threadStatus reads every thread's /proc status into key/value maps.
func threadStatus() []map[string]string {
	paths, _ := filepath.Glob("/proc/self/task/*/status")
	var out []map[string]string
	for _, p := range paths {
		if m := statusFile(p); m != nil {
			out = append(out, m)
		}
	}
	return out
}

// threadStatusOf reads thread tid's status.
func threadStatusOf(tid int) map[string]string {
	return statusFile(fmt.Sprintf("/proc/self/task/%d/status", tid))
}

func statusFile(p string) map[string]string {
	b, err := os.ReadFile(p)
	if err != nil {
		return nil
	}
	m := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok {
			m[k] = strings.TrimSpace(v)
		}
	}
	return m
}

// everyThread returns ok when pred holds for every thread (and there is
// one), else which thread it fails on.
func everyThread(threads []map[string]string, ok string, pred func(map[string]string) bool) string {
	if len(threads) == 0 {
		return "no threads read"
	}
	for _, s := range threads {
		if !pred(s) {
			return fmt.Sprintf("not on thread %s: %v", s["Pid"], s)
		}
	}
	return ok
}

// TestDropBoundingSetEarly empties the bounding set first, as vmm run may
// at start: the process keeps its effective capabilities (it can still
// open what only they allow), and DropPrivileges afterwards still works.
func TestDropBoundingSetEarly(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: only CAP_SETPCAP can empty the bounding set")
	}
	theirs := nobodysFile(t)
	got := inChild(t, nil, "bounding-early", theirs)
	expect(t, got, outcomes{
		"DropBoundingSet": "ok",
		"bounding set":    "empty on every thread",
		"effective set":   "kept on every thread",
		"open another user's file (DAC override)": "ok",
		"DropPrivileges":                 "ok",
		"open another user's file after": "EACCES",
	})
}

func boundingEarlyChild(args []string) outcomes {
	o := outcomes{}
	o.set("DropBoundingSet", DropBoundingSet())
	threads := threadStatus()
	o["bounding set"] = everyThread(threads, "empty on every thread", func(s map[string]string) bool { return strings.Trim(s["CapBnd"], "0") == "" })
	o["effective set"] = everyThread(threads, "kept on every thread", func(s map[string]string) bool { return strings.Trim(s["CapEff"], "0") != "" })
	o.set("open another user's file (DAC override)", openOutcome(args[0], unix.O_RDONLY))
	o.set("DropPrivileges", DropPrivileges(-1, -1))
	o.set("open another user's file after", openOutcome(args[0], unix.O_RDONLY))
	return o
}

// nobodysFile is a 0600 file owned by 65534 in a directory anyone may
// search: root without capabilities cannot open it.
func nobodysFile(t *testing.T) string {
	t.Helper()
	theirs := filepath.Join(worldDir(t), "nobodys")
	if err := os.WriteFile(theirs, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(theirs, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	return theirs
}
