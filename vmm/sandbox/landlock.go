//go:build linux

package sandbox

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/landlock-lsm/go-landlock/landlock"
	ll "github.com/landlock-lsm/go-landlock/landlock/syscall"
	"golang.org/x/sys/unix"
)

// LandlockABI is the Landlock ABI version the kernel offers, 0 when it
// has none (built without it, or not enabled with lsm= at boot).
func LandlockABI() int {
	v, err := LandlockVersion()
	if err != nil || v < 0 {
		return 0
	}
	return v
}

// LandlockVersion asks the kernel for its Landlock ABI version; the error
// is the errno that says why there is none (ENOSYS: not built in,
// EOPNOTSUPP: not enabled at boot), which vmm check reports.
func LandlockVersion() (int, error) { return ll.LandlockGetABIVersion() }

// RestrictFiles confines the whole process (every thread) with Landlock
// to the paths given, each with its access, and nothing else: no other
// file can be opened, created, removed, renamed or executed. It also
// denies TCP bind and connect (ABI 4), and scopes abstract unix sockets
// and signals to the process (ABI 6), as far as the kernel's ABI goes.
// Files already open keep working, whatever their rights: Landlock checks
// at open, so /dev/kvm, the disks and the console stay usable.
//
// AccessRead and AccessWrite grant reading and writing a file's contents
// (of the files under a directory, when Path is one, plus listing it and,
// with write, creating files in it). AccessRemove grants unlinking the
// path, which Landlock can only grant on its parent directory: every file
// directly in that directory or below becomes removable, so keep the API
// socket in a directory of its own.
//
// It returns the kernel's Landlock ABI. On a kernel without Landlock it
// restricts nothing and returns 0, nil: the caller warns.
func RestrictFiles(paths []Path) (abi int, err error) {
	r, err := PrepareFiles(paths)
	if err != nil {
		return r.ABI(), err
	}
	return r.ABI(), r.restrict(false)
}

// FileRules is a Landlock ruleset built but not yet enforced.
type FileRules struct {
	abi   int
	fd    int // -1: nothing to enforce
	flags uint32
}

// ABI is the kernel's Landlock ABI (0: none, nothing will be restricted).
func (r *FileRules) ABI() int {
	if r == nil {
		return 0
	}
	return r.abi
}

// PrepareFiles builds the ruleset for paths, opening each one now. Install
// calls it before dropping privileges: a path under a directory only root
// may search cannot be opened once vmm runs as another user, though the
// file itself was opened while vmm was root.
func PrepareFiles(paths []Path) (*FileRules, error) {
	r := &FileRules{abi: LandlockABI(), fd: -1}
	if r.abi == 0 {
		return r, nil
	}
	rules, err := landlockRules(paths)
	if err != nil {
		return r, err
	}
	if psxListsTasks {
		// libpsx (cgo builds) lists /proc/PID/task after it restricts
		// each thread; without this it reports failure (go-landlock
		// issue 39, which its own Restrict works around the same way).
		rules = append(rules, landlock.PathAccess(ll.AccessFSReadDir, fmt.Sprintf("/proc/%d/task", os.Getpid())))
	}
	// V11 names every right this library knows; BestEffort keeps those
	// the kernel has.
	if r.fd, r.flags, err = landlock.V11.BestEffort().NewRulesetFD(rules...); err != nil {
		return r, err // the caller says it was Landlock
	}
	return r, nil
}

// restrict enforces the ruleset on every thread and closes it. Landlock
// needs no_new_privs on each thread: nnpSet says DropPrivileges has set
// it on every thread and read it back, so one all-thread call is saved.
func (r *FileRules) restrict(nnpSet bool) error {
	if r == nil || r.fd < 0 {
		return nil
	}
	defer func() { unix.Close(r.fd); r.fd = -1 }()
	if !nnpSet {
		if err := ll.AllThreadsPrctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
			return fmt.Errorf("setting no_new_privs: %w", err)
		}
	}
	if err := ll.AllThreadsLandlockRestrictSelf(r.fd, r.flags); err != nil {
		return fmt.Errorf("landlock_restrict_self: %w", err)
	}
	return nil
}

// Close releases a ruleset that will not be enforced.
func (r *FileRules) Close() {
	if r != nil && r.fd >= 0 {
		unix.Close(r.fd)
		r.fd = -1
	}
}

// landlockRules turns paths into Landlock rules, checking each exists.
func landlockRules(paths []Path) ([]landlock.Rule, error) {
	var rules []landlock.Rule
	for _, p := range paths {
		if p.Access == 0 || p.Access&^(AccessRead|AccessWrite|AccessRemove) != 0 {
			return nil, fmt.Errorf("%s: access %#x is not a combination of read, write and remove", p.Path, p.Access)
		}
		fi, err := os.Stat(p.Path)
		if err != nil {
			return nil, fmt.Errorf("%w: the sandbox can only allow a path that exists", err)
		}
		var a landlock.AccessFSSet
		if p.Access&AccessRead != 0 {
			a |= ll.AccessFSReadFile
			if fi.IsDir() {
				a |= ll.AccessFSReadDir
			}
		}
		if p.Access&AccessWrite != 0 {
			a |= ll.AccessFSWriteFile
			if fi.IsDir() {
				a |= ll.AccessFSMakeReg
			}
		}
		if a != 0 {
			rules = append(rules, landlock.PathAccess(a, p.Path))
		}
		if p.Access&AccessRemove != 0 {
			dir := p.Path
			if !fi.IsDir() {
				dir = filepath.Dir(p.Path)
			}
			rules = append(rules, landlock.PathAccess(ll.AccessFSRemoveFile, dir))
		}
	}
	return rules, nil
}
