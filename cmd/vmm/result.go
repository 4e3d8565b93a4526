package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"vmm/vmm"
	"vmm/vmm/sandbox"
)

// exitTimeout is vmm run's exit status when --timeout stopped the VM: 124,
// as timeout(1) uses. It is even, so no guest test-exit value (0 or 2v+1)
// can produce it, and it is neither 1 (runtime error) nor 2 (usage).
const exitTimeout = 124

// runResult is the --result-json document (docs/api.md).
type runResult struct {
	Status        int               `json:"status"`
	Reason        string            `json:"reason"`
	Message       string            `json:"message,omitempty"`
	TestExitValue *uint32           `json:"test_exit_value,omitempty"`
	Crash         *crashResult      `json:"crash,omitempty"`
	Signal        string            `json:"signal,omitempty"`
	TimeoutMS     int64             `json:"timeout_ms,omitempty"`
	Started       bool              `json:"started"`
	FirstRunMS    *float64          `json:"first_kvm_run_ms"`
	ExitMS        float64           `json:"exit_ms"`
	Repairs       map[string]uint64 `json:"repairs"`
	Exits         map[string]uint64 `json:"exits"`
	SerialOut     uint64            `json:"serial_bytes_out"`
	SerialIn      uint64            `json:"serial_bytes_in"`
	Disks         []diskResult      `json:"disks"`
	Sandbox       *sandbox.Report   `json:"sandbox,omitempty"`
	VMMVersion    string            `json:"vmm_version"`
}

// crashResult says where a crashed vCPU was.
type crashResult struct {
	VCPU    int    `json:"vcpu"`
	RIP     string `json:"rip"`
	Summary string `json:"summary"`
}

// diskResult is one disk's counters.
type diskResult struct {
	ID           string            `json:"id"`
	Path         string            `json:"path"`
	Reads        uint64            `json:"reads"`
	Writes       uint64            `json:"writes"`
	Flushes      uint64            `json:"flushes"`
	Discards     uint64            `json:"discards"`
	WriteZeroes  uint64            `json:"write_zeroes"`
	BytesRead    uint64            `json:"bytes_read"`
	BytesWritten uint64            `json:"bytes_written"`
	IOErrors     uint64            `json:"io_errors"`
	Unsupported  uint64            `json:"unsupported"`
	BackendErrs  uint64            `json:"backend_errors"`
	Updates      uint64            `json:"updates"`
	GuestErrors  map[string]uint64 `json:"guest_errors"`
}

// Reasons for ends that are not the VM's.
const (
	reasonUsage = "usage" // bad flags or configuration: nothing ran
)

// runReport collects how vmm run ended and writes --result-json on every
// exit path that comes back through runVM (and, through forced, on the
// one that does not).
type runReport struct {
	path  string
	start time.Time

	mu       sync.Mutex
	res      *vmm.Result // how the VM ended, once it has
	stats    *vmm.Stats
	drives   []string // drive ids, in disk order
	firstRun time.Time
	reason   vmm.Reason // an end before any VM (signal, timeout while waiting)
	signal   string
	timeout  time.Duration
	written  bool
	file     *os.File        // --result-json, opened before the sandbox (openForRun)
	sandbox  *sandbox.Report // what the sandbox installed
}

func newRunReport(path string) *runReport { return &runReport{path: path, start: time.Now()} }

// vmEnded records the VM's end, its counters and when it first ran.
func (r *runReport) vmEnded(res vmm.Result, vm *vmm.VM, drives []string) {
	s := vm.Stats()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.res, r.stats, r.drives, r.firstRun = &res, &s, drives, vm.FirstRun()
}

// openForRun creates (or empties) the --result-json file just before the
// VM runs, while vmm may still open files: under the sandbox the document
// is written through this descriptor. Before that point a failure leaves
// no file behind but the document itself (written by write's fallback).
// The file stays empty while the VM runs: read it once vmm has exited.
func (r *runReport) openForRun() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.path == "" || r.file != nil {
		return nil
	}
	f, err := os.OpenFile(r.path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC|syscall.O_NOFOLLOW, 0o644)
	if err == nil {
		if err = f.Chmod(0o644); err != nil { // whatever the umask
			f.Close()
		}
	}
	if err != nil {
		return fmt.Errorf("--result-json %s: %v", r.path, err)
	}
	r.file = f
	return nil
}

// sandboxInstalled records what the sandbox put in place.
func (r *runReport) sandboxInstalled(rep sandbox.Report) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sandbox = &rep
}

// endedWithout records an end before the VM ran.
func (r *runReport) endedWithout(reason vmm.Reason, signal string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reason, r.signal = reason, signal
}

// finish writes the document for runVM's return value err and returns
// err unchanged.
func (r *runReport) finish(err error) error {
	r.write(statusOf(err), err)
	return err
}

// forced writes the document for an exit that skips runVM's return (a
// second signal).
func (r *runReport) forced(status int, sig string) {
	r.mu.Lock()
	if r.res == nil {
		r.reason, r.signal = vmm.ReasonSignal, sig
	}
	r.mu.Unlock()
	r.write(status, fmt.Errorf("second %s: exited without waiting for the VM to stop", sig))
}

// statusOf is the exit status execute gives err.
func statusOf(err error) int {
	var ee *exitError
	var ue *usageError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.code
	case errors.As(err, &ue), isCobraUsageError(err):
		return 2
	}
	return 1
}

func (r *runReport) write(status int, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.path == "" || r.written {
		return
	}
	r.written = true
	doc := r.document(status, err)
	b, jerr := json.MarshalIndent(doc, "", "  ")
	if jerr == nil {
		if r.file != nil {
			jerr = writeHeld(r.file, append(b, '\n'))
		} else {
			jerr = writeFileAtomic(r.path, append(b, '\n'))
		}
	}
	if jerr != nil {
		fmt.Fprintf(os.Stderr, "vmm: --result-json %s: %v\n", r.path, jerr)
	}
}

// document builds the result. Preconditions: r.mu held.
func (r *runReport) document(status int, err error) runResult {
	doc := runResult{Status: status, ExitMS: ms(time.Since(r.start)), VMMVersion: version,
		Repairs: map[string]uint64{}, Exits: map[string]uint64{}, Disks: []diskResult{}}
	var ue *usageError
	switch {
	case r.res != nil:
		doc.Reason = string(r.res.Reason)
		if r.res.Reason == vmm.ReasonTestExit {
			v := r.res.TestExitValue
			doc.TestExitValue = &v
		}
		doc.Signal = r.res.Signal
		var crash *vmm.GuestCrash
		if errors.As(r.res.Err, &crash) {
			doc.Crash = &crashResult{VCPU: crash.VCPU, RIP: fmt.Sprintf("%#x", crash.RIP), Summary: crash.Summary}
		}
		if r.res.Reason == vmm.ReasonTimeout {
			doc.TimeoutMS = r.timeout.Milliseconds()
		}
		if r.res.Err != nil {
			doc.Message = r.res.Err.Error()
		}
	case r.reason != "":
		doc.Reason, doc.Signal = string(r.reason), r.signal
		if r.reason == vmm.ReasonTimeout {
			doc.TimeoutMS = r.timeout.Milliseconds()
		}
	case errors.As(err, &ue):
		doc.Reason = reasonUsage
	case err != nil:
		doc.Reason = string(vmm.ReasonError)
	}
	if doc.Message == "" && err != nil {
		var ee *exitError
		if errors.As(err, &ee) {
			doc.Message = ee.msg
		} else {
			doc.Message = err.Error()
		}
	}
	doc.Sandbox = r.sandbox
	if !r.firstRun.IsZero() {
		doc.Started = true
		v := ms(r.firstRun.Sub(r.start))
		doc.FirstRunMS = &v
	}
	if s := r.stats; s != nil {
		doc.Repairs, doc.Exits, doc.SerialOut, doc.SerialIn = s.Repairs, s.Exits, s.SerialOut, s.SerialIn
		for i, d := range s.Disks {
			id := d.ID
			if i < len(r.drives) {
				id = r.drives[i]
			}
			doc.Disks = append(doc.Disks, diskResult{ID: id, Path: d.Path, Reads: d.Reads, Writes: d.Writes, Flushes: d.Flushes,
				Discards: d.Discards, WriteZeroes: d.WriteZeroes, BytesRead: d.BytesRead, BytesWritten: d.BytesWritten,
				IOErrors: d.IOErrors, Unsupported: d.Unsupported, BackendErrs: d.BackendErrors, Updates: d.Updates,
				GuestErrors: d.GuestErrors})
		}
	}
	return doc
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// writeFileAtomic replaces path with data: a reader never sees half a
// document.
func writeFileAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// writeHeld replaces the contents of f, opened by openForRun, with data
// (ftruncate and pwrite: no path, no new descriptor) and closes it.
func writeHeld(f *os.File, data []byte) error {
	err := f.Truncate(0)
	if err == nil {
		_, err = f.WriteAt(data, 0)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// checkResultPath refuses a --result-json path that could never be
// written, before anything runs.
func checkResultPath(path string) error {
	if path == "" {
		return nil
	}
	if fi, err := os.Lstat(path); err == nil && fi.Mode()&os.ModeSymlink != 0 {
		return usagef("--result-json %s is a symbolic link: give the path of a regular file", path)
	}
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		return usagef("--result-json %s is a directory: give a file path", path)
	}
	dir := filepath.Dir(path)
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return usagef("--result-json %s: directory %s does not exist", path, dir)
	}
	return nil
}
