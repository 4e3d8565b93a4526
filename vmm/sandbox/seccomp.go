package sandbox

import (
	"fmt"
	"os"
	"runtime"

	seccomp "github.com/elastic/go-seccomp-bpf"
	"golang.org/x/sys/unix"

	"vmm/kvm"
)

// allowedCall is one allowed system call and who needs it after the VM starts.
type allowedCall struct {
	name string
	why  string
}

// allowed is every system call vmm run makes after the sandbox is in
// place, found by tracing (strace -f from the seccomp() call on) the tiny
// kernel's cases (every device, both block engines, the API,
// --result-json, metrics, a terminal) and the Linux guest, and kept in
// sync by a run under --seccomp=log (TestSeccompAllowListInSync). docs/security.md lists
// the same names; a test keeps the two equal.
var allowed = []allowedCall{
	// The Go runtime.
	{"futex", "Go runtime: goroutine parking, locks, thread wake-ups"},
	{"nanosleep", "Go runtime: usleep in the scheduler and spinning locks"},
	{"sched_yield", "Go runtime: osyield while spinning"},
	{"mmap", "Go runtime: heap growth; never PROT_EXEC (argument filter)"},
	{"munmap", "Go runtime: heap release; vmm: unmapping guest RAM and rings at exit"},
	{"madvise", "Go runtime: returning freed heap pages to the kernel"},
	{"rt_sigreturn", "Go runtime: returning from every signal handler (SIGURG preemption, the vCPU kick)"},
	{"rt_sigprocmask", "Go runtime: signal masks around thread creation and exit"},
	{"mprotect", "libc (cgo and race-detector builds only): a new thread's stack guard page; never PROT_EXEC (argument filter)"},
	{"rt_sigaction", "Go runtime: signal.Stop restoring handlers as vmm exits; never for SIGSYS (argument filter), so the refusal handler stays"},
	{"sigaltstack", "Go runtime: the signal stack of each new thread"},
	{"clone", "Go runtime (or libc in cgo builds): a new thread when goroutines block; thread flags only (argument filter)"},
	{"set_robust_list", "libc (cgo and race-detector builds only): every new thread registers its robust futex list"},
	{"rseq", "libc (cgo and race-detector builds only): every new thread registers restartable sequences"},
	{"sched_getaffinity", "libc (cgo and race-detector builds only): counting CPUs for a new thread's malloc arena, once reading /sys is refused"},
	{"exit", "Go runtime: a thread ending (a vCPU's locked thread exits with its goroutine)"},
	{"exit_group", "vmm exiting"},
	{"gettid", "Go runtime: thread ids of new threads; vmm: the vCPU thread id its kick signals"},
	{"getpid", "Go runtime and vmm: signalling its own threads (tgkill)"},
	{"tgkill", "Go runtime: preemption (SIGURG); vmm: kicking a vCPU out of KVM_RUN; only to vmm's own threads (argument filter)"},
	{"epoll_pwait", "Go runtime: the network poller (console input, API socket, pipes)"},
	{"epoll_ctl", "Go runtime: adding and removing descriptors in the poller (API connections)"},
	{"restart_syscall", "kernel: resuming a sleep that a signal interrupted"},
	// I/O on descriptors opened before the sandbox.
	{"read", "console input, eventfds (block kicks), the API socket"},
	{"write", "console output, eventfds (irqfd), the log, metrics, the API socket, the Go poller's wake-up eventfd"},
	{"pwrite64", "sync block engine; --result-json written through the descriptor opened at start"},
	{"preadv2", "sync block engine: reads with per-request flags"},
	{"pwritev2", "sync block engine: writes with per-request flags (RWF_DSYNC for write-through)"},
	{"ppoll", "sync block engine: waiting for a queue kick on its eventfd; console input: waiting for stdin"},
	{"fdatasync", "sync block engine: a guest flush"},
	{"fallocate", "sync block engine: discard and write-zeroes (punching holes)"},
	{"ftruncate", "--result-json: emptying the file before writing the document"},
	{"close", "closing descriptors at exit and when an API connection ends"},
	{"io_uring_enter", "io_uring block engine: submitting requests and waiting for completions on rings set up before start"},
	{"ioctl", "KVM requests of a running VM and the terminal requests of the console (argument filter)"},
	// The API socket (listening since before start).
	{"accept4", "API: a new connection on the listening socket"},
	{"getsockname", "API: net package bookkeeping on an accepted connection"},
	{"shutdown", "API: closing a connection"},
	{"unlinkat", "API: removing the socket at exit"},
}

// terminalRequests are the console's ioctls on its terminal: raw mode in
// and out (x/term) and the window size.
var terminalRequests = []kvm.Request{
	{Name: "TCGETS", Number: unix.TCGETS},
	{Name: "TCSETS", Number: unix.TCSETS},
	{Name: "TCSETSW", Number: unix.TCSETSW},
	{Name: "TCSETSF", Number: unix.TCSETSF},
	{Name: "TIOCGWINSZ", Number: unix.TIOCGWINSZ},
}

// threadCloneFlags are exactly the flags the Go runtime passes to clone
// for a new thread (runtime/os_linux.go cloneFlags, plus CLONE_SETTLS from
// its amd64 assembly); libcCloneFlags are glibc's pthread_create's, which
// a cgo build (the race detector's) uses once clone3 answers ENOSYS.
// Anything else (fork, vfork, new namespaces) matches neither and is
// refused.
const (
	threadCloneFlags = unix.CLONE_VM | unix.CLONE_FS | unix.CLONE_FILES | unix.CLONE_SIGHAND |
		unix.CLONE_SYSVSEM | unix.CLONE_THREAD | unix.CLONE_SETTLS
	libcCloneFlags = threadCloneFlags | unix.CLONE_PARENT_SETTID | unix.CLONE_CHILD_CLEARTID
)

// ioctlRequests are the requests the ioctl filter allows.
func ioctlRequests() []kvm.Request {
	return append(kvm.RunTimeRequests(), terminalRequests...)
}

// AllowedSyscalls returns the allow list's names, in order.
func AllowedSyscalls() []string {
	out := make([]string, len(allowed))
	for i, s := range allowed {
		out[i] = s.name
	}
	return out
}

// refusedOpens fail with EPERM instead of ending vmm: opening a file is
// refused either way, and the caller's error names the file. libc in a
// cgo build (the race detector's) reads /sys/devices/system/cpu/online
// now and then and copes with the refusal.
var refusedOpens = []string{"open", "openat", "openat2", "creat"}

// policy builds the filter for mode: the allow list (with argument
// filters on ioctl, clone, tgkill, mmap, mprotect and rt_sigaction), clone3 answered ENOSYS so
// that anything trying it falls back to clone, opening files answered
// EPERM (kill mode), and everything else trapped (kill) or logged (log).
func policy(mode SeccompMode) seccomp.Policy {
	def := seccomp.ActionTrap
	if mode == SeccompLog {
		def = seccomp.ActionLog
	}
	var plain []string
	var ioctls, conds []seccomp.NameWithConditions
	for _, s := range allowed {
		switch s.name {
		case "ioctl":
			for _, r := range ioctlRequests() {
				ioctls = append(ioctls, seccomp.NameWithConditions{Name: "ioctl", Conditions: seccomp.ArgumentConditions{
					{Argument: 1, Operation: seccomp.Equal, Value: uint64(r.Number)}}})
			}
		case "tgkill":
			conds = append(conds, seccomp.NameWithConditions{Name: "tgkill", Conditions: seccomp.ArgumentConditions{
				{Argument: 0, Operation: seccomp.Equal, Value: uint64(os.Getpid())}}})
		case "mmap", "mprotect":
			// No new executable memory: shellcode has nowhere to go.
			conds = append(conds, seccomp.NameWithConditions{Name: s.name, Conditions: seccomp.ArgumentConditions{
				{Argument: 2, Operation: seccomp.BitsNotSet, Value: unix.PROT_EXEC}}})
		case "rt_sigaction":
			conds = append(conds, seccomp.NameWithConditions{Name: "rt_sigaction", Conditions: seccomp.ArgumentConditions{
				{Argument: 0, Operation: seccomp.NotEqual, Value: uint64(unix.SIGSYS)}}})
		case "clone":
			for _, flags := range []uint64{threadCloneFlags, libcCloneFlags} {
				conds = append(conds, seccomp.NameWithConditions{Name: "clone", Conditions: seccomp.ArgumentConditions{
					{Argument: 0, Operation: seccomp.Equal, Value: flags}}})
			}
		default:
			plain = append(plain, s.name)
		}
	}
	// The filter is a linear program: ioctl goes first, KVM_RUN its first
	// request, so the hottest call (one per VM exit) is decided soonest.
	groups := []seccomp.SyscallGroup{
		{NamesWithCondtions: ioctls, Action: seccomp.ActionAllow},
		{Names: plain, NamesWithCondtions: conds, Action: seccomp.ActionAllow},
		{Names: []string{"clone3"}, Action: seccomp.ActionErrno | seccomp.Action(unix.ENOSYS)},
	}
	if mode == SeccompKill {
		groups = append(groups, seccomp.SyscallGroup{Names: refusedOpens, Action: seccomp.ActionErrno | seccomp.Action(unix.EPERM)})
	}
	return seccomp.Policy{DefaultAction: def, Syscalls: groups}
}

// installSeccomp installs the filter for mode on every thread (TSYNC),
// with no_new_privs, and returns how many system calls it allows. In
// kill mode a refused call raises SIGSYS, which sigsys.go turns into a
// one-line message and exit status 1; SECCOMP_FILTER_FLAG_LOG has the
// kernel log it too, so dmesg names the call either way.
func installSeccomp(mode SeccompMode) (int, error) {
	if mode == SeccompOff {
		return 0, nil
	}
	// Since Go 1.25 the runtime re-reads the CPU affinity and cgroup
	// limits now and then to adjust GOMAXPROCS (sched_getaffinity,
	// openat): setting it explicitly turns that off for good.
	runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	if mode == SeccompKill {
		if err := catchSIGSYS(); err != nil {
			return 0, err
		}
	}
	flags := seccomp.FilterFlagTSync
	if mode == SeccompKill {
		// Log traps and errno answers too. Not in log mode, where the
		// default action logs anyway and clone3's ENOSYS would be noise.
		flags |= seccomp.FilterFlagLog
	}
	f := seccomp.Filter{NoNewPrivs: true, Flag: flags, Policy: policy(mode)}
	if err := seccomp.LoadFilter(f); err != nil {
		return 0, err
	}
	return len(allowed), nil
}

// blockedMessage is what the SIGSYS handler prints for system call nr.
func blockedMessage(nr int, name string) string {
	return fmt.Sprintf("vmm: the sandbox blocked system call %s (%d); rerun with --seccomp=log and look for type=1326 in dmesg, or --seccomp=off\n", name, nr)
}
