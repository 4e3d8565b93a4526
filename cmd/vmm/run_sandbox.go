package main

import (
	"errors"
	"os"
	"path/filepath"

	"github.com/sirupsen/logrus"

	"vmm/vmm"
	"vmm/vmm/sandbox"
)

// errSandboxedDriveUpdate answers PATCH /drives/{id} with a new file once
// the sandbox is on: opening it needs openat, which seccomp refuses, on a
// path Landlock was not given.
var errSandboxedDriveUpdate = errors.New("the sandbox forbids opening a new file once the VM runs (seccomp refuses openat; Landlock allows only the files given at start): " +
	"start vmm with --seccomp=off --landlock=false to change a drive's file while it runs")

// maxID is the largest uid or gid (2^32-2; -1 is "no change" to the kernel).
const maxID = 1<<32 - 2

// parseSandbox checks the sandbox flags.
func parseSandbox(f runFlags) (sandbox.Config, error) {
	mode, err := sandbox.ParseSeccompMode(f.seccomp)
	if err != nil {
		return sandbox.Config{}, &usageError{err}
	}
	for _, id := range []struct {
		flag string
		v    int
	}{{"--uid", f.uid}, {"--gid", f.gid}} {
		if id.v == -1 {
			continue
		}
		if id.v < 0 || id.v > maxID {
			return sandbox.Config{}, usagef("%s %d is out of range: give 0 to %d, or -1 to keep the current one", id.flag, id.v, maxID)
		}
		if euid := os.Geteuid(); euid != 0 {
			return sandbox.Config{}, usagef("%s needs vmm to start as root (it runs as uid %d, which cannot change ids): leave %s out", id.flag, euid, id.flag)
		}
	}
	if (f.uid == -1) != (f.gid == -1) {
		// With --uid alone the VMM would keep group 0 and every file root's
		// group may touch.
		return sandbox.Config{}, usagef("--uid and --gid go together: give both (e.g. --uid 65534 --gid 65534)")
	}
	return sandbox.Config{Seccomp: mode, Landlock: f.landlock, UID: f.uid, GID: f.gid}, nil
}

// sandboxConfig is the sandbox for a VM with these disks: the plan's
// flags, and the paths the run still reaches by name once it runs. Every
// other file it uses (console, log, metrics, --result-json, the disks
// themselves) is open before the sandbox goes in and used through its
// descriptor.
func (p *runPlan) sandboxConfig(disks []vmm.DiskConfig) sandbox.Config {
	cfg := p.sandbox
	cfg.Paths = nil
	for _, d := range disks {
		a := sandbox.AccessRead
		if !d.ReadOnly {
			a |= sandbox.AccessWrite
		}
		cfg.Paths = append(cfg.Paths, sandbox.Path{Path: d.Path, Access: a})
	}
	if p.console.kind == "file" {
		cfg.Paths = append(cfg.Paths, sandbox.Path{Path: p.console.path, Access: sandbox.AccessWrite})
	}
	if p.f.apiSock != "" {
		if cfg.Landlock {
			warnSharedSocketDir(p.f.apiSock)
		}
		// Removed at exit.
		cfg.Paths = append(cfg.Paths, sandbox.Path{Path: p.f.apiSock, Access: sandbox.AccessRemove})
	}
	return cfg
}

// beforeRun is the VM's BeforeRun hook: the last files open, then the
// sandbox. From here on vmm opens nothing.
func (r *runner) beforeRun(cfg sandbox.Config) func() error {
	return func() error {
		if err := r.report.openForRun(); err != nil {
			return err
		}
		r.mu.Lock()
		r.sandboxed = cfg.Seccomp != sandbox.SeccompOff || cfg.Landlock
		r.mu.Unlock()
		rep, err := sandbox.Install(cfg)
		if err != nil {
			return err
		}
		r.report.sandboxInstalled(rep)
		logrus.WithFields(logrus.Fields{"seccomp": rep.Seccomp, "syscalls": rep.Syscalls, "landlock_abi": rep.LandlockABI,
			"uid": rep.UID, "gid": rep.GID}).Debug("sandbox installed")
		return nil
	}
}

// warnSharedSocketDir warns when the API socket shares its directory:
// Landlock can grant removing the socket only on the whole directory, so
// a hijacked vmm could remove the other files in it too.
func warnSharedSocketDir(sock string) {
	dir := filepath.Dir(sock)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		if e.Name() != filepath.Base(sock) {
			logrus.Warnf("the sandbox lets vmm remove any file in %s to remove its API socket at exit; give --api-sock a directory of its own", dir)
			return
		}
	}
}
