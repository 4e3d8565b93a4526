package main

import (
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// linuxOpts say which Linux guest the optional linux section boots.
type linuxOpts struct {
	kernel, initrd string
	memMiB, rounds int
	timeout        time.Duration
	seenCmdline    string // the command line the kernel reported under vmm
}

// linuxBootLock is held while a Linux guest boots, so that no two run at
// once on this machine (the tests take it too).
const linuxBootLock = "/tmp/vmm-linux-boot.lock"

const linuxBaseCmdline = "console=ttyS0 reboot=k panic=-1"

// linuxSection: our Linux guest from process start to "Run /init as init
// process" under vmm, QEMU with KVM and QEMU with software emulation (TCG).
// For information: it costs minutes on a kvm_pvm host, so it runs only when
// asked for.
func linuxSection(o *linuxOpts) *section {
	return &section{
		name: "linux", optional: true, rounds: o.rounds, noWarmup: true,
		cols:  [numCols]string{"vmm", "QEMU microvm, KVM", "QEMU microvm, TCG"},
		limit: "QEMU with software emulation (-accel tcg), no KVM at all: not a floor, but what a guest costs on this host without its KVM backend",
		rows: []row{
			{id: "init", label: "our Linux: start → Run /init (s)", short: "Linux to init", unit: "s"},
			{id: "kinit", label: "our Linux: its own clock at Run /init (s)", short: "Linux clock at init", unit: "s"},
		},
		prepare: func(b *bench) [numCols]string {
			var skip [numCols]string
			for _, f := range []string{o.kernel, o.initrd} {
				if _, err := os.Stat(f); err != nil {
					why := fmt.Sprintf("no Linux guest at %s (make linux-guest builds it)", f)
					return [numCols]string{why, why, why}
				}
			}
			skip[colQEMU], skip[colLimit] = b.qemuWhy, b.qemuWhy
			return skip
		},
		measure: func(b *bench, c column) (sample, error) {
			unlockBoot, err := b.lock(linuxBootLock)
			if err != nil {
				return sample{}, err
			}
			defer unlockBoot()
			unlock, err := b.lock(benchLock)
			if err != nil {
				return sample{}, err
			}
			defer unlock()
			p, err := startProc(b.linuxArgv(c, o), false)
			if err != nil {
				return sample{}, err
			}
			defer p.kill()
			secs, stopped, err := waitInit(p, o.timeout)
			if err != nil {
				return sample{}, err
			}
			if stopped != "" {
				return sample{notes: map[string]string{"init": stopped, "kinit": "—"}}, nil
			}
			v := map[string]float64{"init": secs}
			if k, ok := kernelClockAt(p.stdout(), initLine); ok {
				v["kinit"] = k
			}
			if c == colVMM && o.seenCmdline == "" {
				if m := regexp.MustCompile(`(?m)Command line: (.*?)\r?$`).FindStringSubmatch(p.stdout()); m != nil {
					o.seenCmdline = m[1]
				}
			}
			return sample{values: v}, nil
		},
	}
}

// linuxArgv boots the Linux guest under c. QEMU gets the command line the
// kernel saw under vmm (with the parameters vmm adds on kvm_pvm), so the
// runs differ only in the VMM.
func (b *bench) linuxArgv(c column, o *linuxOpts) []string {
	mem := strconv.Itoa(o.memMiB)
	if c == colVMM {
		return []string{b.vmm, "run", "--kernel", o.kernel, "--initrd", o.initrd, "--mem", mem + "M",
			"--cpus", "1", "--cmdline", linuxBaseCmdline, "--console", "stdio"}
	}
	cmdline := o.seenCmdline
	if cmdline == "" {
		cmdline = linuxBaseCmdline
	}
	accel := []string{"-enable-kvm", "-cpu", "host"}
	if c == colLimit {
		accel = []string{"-accel", "tcg"}
	}
	argv := append([]string{b.qemu, "-M", "microvm"}, accel...)
	return append(argv, "-m", mem, "-nodefaults", "-no-user-config", "-nographic", "-serial", "stdio",
		"-no-reboot", "-kernel", o.kernel, "-initrd", o.initrd, "-append", cmdline)
}

const initLine = "Run /init as init process"

// waitInit waits for the init line and returns the seconds since start, or
// why the guest stopped before it (QEMU pauses a guest on a KVM internal
// error instead of exiting).
func waitInit(p *proc, timeout time.Duration) (float64, string, error) {
	deadline := time.Now().Add(timeout)
	for {
		p.mu.Lock()
		found, eof, ch := strings.Contains(p.out.String(), initLine), p.eof, p.changed
		p.mu.Unlock()
		now := time.Now()
		switch {
		case found:
			return now.Sub(p.start).Seconds(), "", nil
		case strings.Contains(p.stderr.String(), "KVM internal error"):
			return 0, fmt.Sprintf("stops after %.0f s: KVM internal error (%s)", now.Sub(p.start).Seconds(), lastKernelLine(p.stdout())), nil
		case eof:
			<-p.exited
			return 0, "", fmt.Errorf("%s exited (status %d) before %q%s", p.name, p.status, initLine, p.tail())
		case now.After(deadline):
			return 0, "", fmt.Errorf("%s: no %q within %v%s", p.name, initLine, timeout, p.tail())
		}
		select {
		case <-ch:
		case <-time.After(50 * time.Millisecond): // stderr has no change signal
		}
	}
}

// lastKernelLine is the last printk line (those start with "[  time]"),
// without its timestamp.
func lastKernelLine(out string) string {
	last := ""
	for _, l := range strings.Split(out, "\n") {
		l = strings.TrimRight(l, "\r")
		if strings.HasPrefix(l, "[") {
			if _, rest, ok := strings.Cut(l, "] "); ok {
				last = rest
			}
		}
	}
	if len(last) > 60 {
		last = last[:60] + "..."
	}
	if last == "" {
		return "no kernel output"
	}
	return "last: " + last
}

var kernelClock = regexp.MustCompile(`^\[ *([0-9]+\.[0-9]+)\] `)

// kernelClockAt is the printk timestamp of the first line containing s.
func kernelClockAt(out, s string) (float64, bool) {
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, s) {
			if m := kernelClock.FindStringSubmatch(l); m != nil {
				f, err := strconv.ParseFloat(m[1], 64)
				return f, err == nil
			}
			return 0, false
		}
	}
	return 0, false
}
