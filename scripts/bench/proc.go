package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	"vmm/internal/syncbuf"
)

// proc is one measured VMM process: when it started, when its first
// stdout byte arrived, what it printed and when it ended.
type proc struct {
	name  string
	cmd   *exec.Cmd
	start time.Time // just before fork/exec
	stdin io.WriteCloser

	mu        sync.Mutex
	changed   chan struct{} // closed and replaced whenever stdout grows or the reader ends
	out       bytes.Buffer  // stdout (the guest's serial console)
	firstByte time.Time
	lastByte  time.Time
	eof       bool

	stderr     syncbuf.Buffer
	stderrDone chan struct{} // closed when stderr reaches EOF

	exited chan struct{} // closed once Wait has returned
	end    time.Time
	status int // exit status; -1 when killed by a signal
	rusage *syscall.Rusage
}

// startProc starts argv with stdout on a pipe it timestamps, stderr
// collected, and stdin a pipe when withStdin is set (else /dev/null).
func startProc(argv []string, withStdin bool) (*proc, error) {
	// Both outputs are *os.File pipes read here, so exec starts no copying
	// goroutine and Wait returns as soon as the process has exited.
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	er, ew, err := os.Pipe()
	if err != nil {
		r.Close()
		w.Close()
		return nil, err
	}
	closeAll := func() {
		for _, f := range []*os.File{r, w, er, ew} {
			f.Close()
		}
	}
	p := &proc{name: argv[0], changed: make(chan struct{}), exited: make(chan struct{}), stderrDone: make(chan struct{})}
	p.cmd = exec.Command(argv[0], argv[1:]...)
	p.cmd.Stdout = w
	p.cmd.Stderr = ew
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if withStdin {
		if p.stdin, err = p.cmd.StdinPipe(); err != nil {
			closeAll()
			return nil, err
		}
	}
	p.start = time.Now()
	if err := p.cmd.Start(); err != nil {
		closeAll()
		return nil, fmt.Errorf("start %s: %w", argv[0], err)
	}
	w.Close()
	ew.Close()
	go p.readStdout(r)
	go func() {
		defer close(p.stderrDone)
		defer er.Close()
		_, _ = io.Copy(&p.stderr, er)
	}()
	go func() {
		err := p.cmd.Wait()
		p.end = time.Now()
		p.status = p.cmd.ProcessState.ExitCode()
		if ru, ok := p.cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			p.rusage = ru
		}
		var ee *exec.ExitError
		if err != nil && !errors.As(err, &ee) {
			p.stderr.WriteString("\nbench: wait: " + err.Error())
		}
		close(p.exited)
	}()
	return p, nil
}

func (p *proc) readStdout(r *os.File) {
	defer r.Close()
	buf := make([]byte, 64<<10)
	for {
		n, err := r.Read(buf)
		now := time.Now()
		p.mu.Lock()
		if n > 0 {
			if p.firstByte.IsZero() {
				p.firstByte = now
			}
			p.lastByte = now
			p.out.Write(buf[:n])
		}
		if err != nil {
			p.eof = true
		}
		close(p.changed)
		p.changed = make(chan struct{})
		p.mu.Unlock()
		if err != nil {
			return
		}
	}
}

// stdout returns everything the process printed so far.
func (p *proc) stdout() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

// waitOutput waits until stdout contains s, the output ends, or timeout.
func (p *proc) waitOutput(s string, timeout time.Duration) error {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		p.mu.Lock()
		found, eof, ch := strings.Contains(p.out.String(), s), p.eof, p.changed
		p.mu.Unlock()
		switch {
		case found:
			return nil
		case eof:
			<-p.exited
			return fmt.Errorf("%s exited (status %d) before printing %q%s", p.name, p.status, s, p.tail())
		}
		select {
		case <-ch:
		case <-deadline.C:
			return fmt.Errorf("%s printed no %q within %v%s", p.name, s, timeout, p.tail())
		}
	}
}

// wait waits for the process to exit, killing it after timeout.
func (p *proc) wait(timeout time.Duration) error {
	select {
	case <-p.exited:
	case <-time.After(timeout):
		p.kill()
		return fmt.Errorf("%s still running after %v; killed%s", p.name, timeout, p.tail())
	}
	p.drain()
	return nil
}

// drain lets the readers take in the last bytes after the exit closed the
// pipes (bounded: a grandchild could keep them open).
func (p *proc) drain() {
	deadline := time.Now().Add(time.Second)
	for {
		p.mu.Lock()
		eof, ch := p.eof, p.changed
		p.mu.Unlock()
		left := time.Until(deadline)
		if eof || left <= 0 {
			break
		}
		select {
		case <-ch:
		case <-time.After(left):
		}
	}
	select {
	case <-p.stderrDone:
	case <-time.After(time.Until(deadline)):
	}
}

// kill ends the process and waits for it.
func (p *proc) kill() {
	_ = p.cmd.Process.Kill()
	<-p.exited
	p.drain()
}

// tail is the end of stdout and stderr, for error messages.
func (p *proc) tail() string {
	last := func(s string) string {
		s = strings.TrimSpace(s)
		if len(s) > 600 {
			s = "..." + s[len(s)-600:]
		}
		return s
	}
	return fmt.Sprintf("\n  stdout: %s\n  stderr: %s", last(p.stdout()), last(p.stderr.String()))
}
