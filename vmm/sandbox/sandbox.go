// Package sandbox confines a running VMM: once the VM is built, it drops
// privileges, limits the files the process can reach (Landlock) and the
// system calls it can make (seccomp), so that a guest that takes over the
// VMM process through a device bug can do almost nothing with it.
// docs/security.md describes what each layer stops.
package sandbox

import (
	"fmt"
	"os"
	"strings"
	"time"
)

// SeccompMode says what the seccomp filter does with a system call that
// is not on the allow list.
type SeccompMode string

const (
	// SeccompKill ends the process with a one-line message naming the call.
	SeccompKill SeccompMode = "kill"
	// SeccompLog lets the call run and has the kernel log it (type=1326).
	SeccompLog SeccompMode = "log"
	// SeccompOff installs no filter.
	SeccompOff SeccompMode = "off"
)

// SeccompModes are the values --seccomp accepts.
var SeccompModes = []SeccompMode{SeccompKill, SeccompLog, SeccompOff}

// ParseSeccompMode checks a --seccomp value.
func ParseSeccompMode(s string) (SeccompMode, error) {
	for _, m := range SeccompModes {
		if s == string(m) {
			return m, nil
		}
	}
	names := make([]string, len(SeccompModes))
	for i, m := range SeccompModes {
		names[i] = string(m)
	}
	return "", fmt.Errorf("--seccomp %q: use %s", s, strings.Join(names, ", "))
}

// Access is what the running VMM may do with a path (bit flags).
type Access uint8

const (
	AccessRead   Access = 1 << iota // read the file
	AccessWrite                     // write (and truncate) the file
	AccessRemove                    // unlink it (the API socket, at exit)
)

// Path is one file the running VMM still needs, and how.
type Path struct {
	Path   string
	Access Access
}

// Config is the sandbox to install.
type Config struct {
	Seccomp  SeccompMode
	Landlock bool
	UID, GID int // drop to these ids; -1 keeps the current one
	Paths    []Path
}

// Report says what Install put in place; vmm run logs it and writes it to
// --result-json.
type Report struct {
	Seccomp     SeccompMode `json:"seccomp"`
	Syscalls    int         `json:"seccomp_syscalls"` // allowed system calls (0 when off)
	LandlockABI int         `json:"landlock_abi"`     // 0: no Landlock ruleset
	UID         int         `json:"uid"`              // the ids vmm runs as from here on
	GID         int         `json:"gid"`
}

// Install confines the calling process, all threads: the file rules are
// built first (opening their paths needs the ids vmm started with), then
// privileges are dropped (while changing ids is still allowed), then the
// file rules are enforced, then the system call filter last, since it
// forbids the calls the others make.
// On error the process may be partly confined; the caller must stop.
func Install(cfg Config) (Report, error) {
	rep := Report{Seccomp: SeccompOff, UID: cfg.UID, GID: cfg.GID}
	if _, err := ParseSeccompMode(string(cfg.Seccomp)); err != nil {
		return rep, err
	}
	// The local time zone loads lazily from /etc/localtime on first use
	// (a log line's timestamp): load it while files can still be opened.
	time.Now().Zone()
	// The Landlock ruleset opens its paths while vmm may still search
	// every directory; it is enforced after the drop.
	var files *FileRules
	if cfg.Landlock {
		var err error
		if files, err = PrepareFiles(cfg.Paths); err != nil {
			files.Close()
			return rep, fmt.Errorf("sandbox: Landlock: %w", err)
		}
		defer files.Close()
	}
	if err := DropPrivileges(cfg.UID, cfg.GID); err != nil {
		return rep, fmt.Errorf("sandbox: dropping privileges: %w", err)
	}
	rep.UID, rep.GID = os.Getuid(), os.Getgid()
	if cfg.Landlock {
		if err := files.restrict(true); err != nil { // DropPrivileges set no_new_privs everywhere
			return rep, fmt.Errorf("sandbox: Landlock: %w", err)
		}
		rep.LandlockABI = files.ABI()
	}
	n, err := installSeccomp(cfg.Seccomp)
	if err != nil {
		return rep, fmt.Errorf("sandbox: seccomp: %w (run with --seccomp=off to do without)", err)
	}
	rep.Seccomp, rep.Syscalls = cfg.Seccomp, n
	return rep, nil
}
