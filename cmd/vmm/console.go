package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"
	"golang.org/x/term"

	"vmm/vmm"
	"vmm/vmm/sandbox"
)

// consoleSpec is a parsed --console value.
type consoleSpec struct {
	kind string // "stdio", "none" or "file"
	path string // for "file"
}

func parseConsole(spec string) (consoleSpec, error) {
	switch {
	case spec == "stdio" || spec == "none":
		return consoleSpec{kind: spec}, nil
	case strings.HasPrefix(spec, "file:") && len(spec) > len("file:"):
		return consoleSpec{kind: "file", path: strings.TrimPrefix(spec, "file:")}, nil
	}
	return consoleSpec{}, usagef("--console %q is not a console: use stdio, none or file:PATH", spec)
}

// precheck looks at a console file's path before the VM is built, without
// creating or changing anything, so that an unusable path fails fast.
func (s consoleSpec) precheck() error {
	if s.kind != "file" {
		return nil
	}
	var st unix.Stat_t
	err := unix.Lstat(s.path, &st)
	switch {
	case err == nil:
		return checkConsoleNode(s.path, st.Mode)
	case !errors.Is(err, unix.ENOENT):
		return fmt.Errorf("--console file:%s: %v", s.path, err)
	}
	dir := filepath.Dir(s.path)
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return fmt.Errorf("--console file:%s: directory %s does not exist", s.path, dir)
	}
	return nil
}

// checkConsoleNode refuses anything but a regular file: following a
// symbolic link planted in a shared directory would let someone else choose
// which file vmm truncates, and a FIFO or device has no business here.
func checkConsoleNode(path string, mode uint32) error {
	switch mode & unix.S_IFMT {
	case unix.S_IFREG:
		return nil
	case unix.S_IFLNK:
		return fmt.Errorf("--console file:%s is a symbolic link: vmm does not follow links for the console; give the file's real path", path)
	}
	return fmt.Errorf("--console file:%s is %s, not a regular file", path, nodeKind(mode&unix.S_IFMT))
}

// console is where the guest's serial port goes once the VM is built.
type console struct {
	spec    consoleSpec
	file    *os.File // for "file"
	created bool     // the file did not exist before
}

// open opens the console's destination. A file is created 0600 (guest
// output is nobody else's business) or, if it exists, truncated: only now,
// after the VM has been built, so a failed start leaves it untouched. The
// path must not be a symbolic link or anything but a regular file.
func (s consoleSpec) open() (*console, error) {
	c := &console{spec: s}
	if s.kind != "file" {
		return c, nil
	}
	const flags = unix.O_WRONLY | unix.O_NOFOLLOW | unix.O_NOCTTY | unix.O_NONBLOCK | unix.O_CLOEXEC
	fd, err := retryEINTR(func() (int, error) { return unix.Open(s.path, flags|unix.O_CREAT|unix.O_EXCL, 0o600) })
	if err == nil {
		c.created = true
	} else if errors.Is(err, unix.EEXIST) {
		fd, err = retryEINTR(func() (int, error) { return unix.Open(s.path, flags, 0) })
	}
	if errors.Is(err, unix.ELOOP) {
		return nil, checkConsoleNode(s.path, unix.S_IFLNK)
	}
	if err != nil {
		return nil, fmt.Errorf("--console file:%s: %v", s.path, err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("--console file:%s: %v", s.path, err)
	}
	if err := checkConsoleNode(s.path, st.Mode); err != nil {
		unix.Close(fd)
		return nil, err
	}
	if !c.created {
		if err := unix.Ftruncate(fd, 0); err != nil {
			unix.Close(fd)
			return nil, fmt.Errorf("--console file:%s: truncate: %v", s.path, err)
		}
	}
	c.file = os.NewFile(uintptr(fd), s.path)
	return c, nil
}

// writer is where the VM's console pump writes: stdout (filtered of
// dangerous escape sequences when it is a terminal), the file, or nothing.
func (c *console) writer() io.Writer {
	switch c.spec.kind {
	case "stdio":
		if term.IsTerminal(int(os.Stdout.Fd())) {
			return vmm.NewTerminalFilter(os.Stdout)
		}
		return os.Stdout
	case "file":
		return c.file
	}
	return io.Discard
}

// startInput feeds stdin to the guest's UART and, on a terminal, switches
// it to raw mode. It returns a function that restores the terminal (safe
// to call more than once, from any goroutine) and one that waits for the
// input goroutine, which ends when the VM stops.
func (c *console) startInput(vm *vmm.VM) (restore func(), wait func(), err error) {
	restore, wait = func() {}, func() {}
	if c.spec.kind != "stdio" {
		return restore, wait, nil
	}
	fd := int(os.Stdin.Fd())
	interactive := term.IsTerminal(fd)
	if interactive {
		saved, terr := unix.IoctlGetTermios(fd, unix.TCGETS)
		if old, err := term.MakeRaw(fd); err == nil {
			restore = onceFunc(func() { _ = term.Restore(fd, old) })
			if terr == nil {
				// Also when the sandbox ends vmm over a refused call.
				sandbox.RestoreTerminalOnBlock(fd, saved)
			}
		}
	}
	in, err := newStopReader(fd)
	if err != nil {
		restore()
		return nil, nil, fmt.Errorf("console input: %w", err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		pumped := make(chan struct{})
		go func() {
			defer close(pumped)
			defer vm.RecoverPanic("console input")
			vmm.PumpInput(consoleInput(in), vm.Serial(), interactive, func() {
				logrus.Info("Ctrl-A x: quitting")
				vm.Stop(vmm.Result{Status: 0, Reason: vmm.ReasonQuit})
			})
		}()
		select {
		case <-vm.Stopped():
			in.stop()
			<-pumped
		case <-pumped: // the input ended first (EOF)
		}
		in.close() // nothing can use the eventfd any more
	}()
	return restore, func() { <-done }, nil
}

// consoleInput is the reader the input pump reads; tests replace it to
// inject a fault into the pump.
var consoleInput = func(r *stopReader) io.Reader { return r }

func (c *console) close() {
	if c.file != nil {
		_ = c.file.Close()
	}
}

// abandon undoes open when the VM never ran: no stray file.
func (c *console) abandon() {
	c.close()
	if c.file != nil && c.created {
		_ = os.Remove(c.file.Name())
	}
}

// onceFunc wraps f so that only its first call runs it.
func onceFunc(f func()) func() {
	var once = make(chan struct{}, 1)
	once <- struct{}{}
	return func() {
		select {
		case <-once:
			f()
		default:
		}
	}
}

// retryEINTR calls fn until it is not interrupted by a signal.
func retryEINTR(fn func() (int, error)) (int, error) {
	for {
		n, err := fn()
		if err != unix.EINTR {
			return n, err
		}
	}
}
