package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// tinyColumns are the headings of the sections that run the tiny kernel.
var tinyColumns = [numCols]string{"vmm", "QEMU microvm", "limit"}

// floorLimit describes the limit column of those sections.
const floorLimit = "the C floor (scripts/bench/floor/floor.c): the same guest straight on /dev/kvm, " +
	"with an in-kernel irqchip and a switch statement for exits"

// tinyPrepare skips the columns whose tool is missing.
func tinyPrepare(b *bench) [numCols]string {
	return [numCols]string{colQEMU: b.qemuWhy, colLimit: b.floorWhy}
}

// guestOpts change how a tiny-kernel run is started.
type guestOpts struct {
	trace bool // log when the first KVM_RUN happens (vmm: debug log; QEMU: trace event)
	stdin bool // a pipe to the guest's serial input
}

// tinyArgv is the command that boots the tiny kernel with cmdline under c,
// on 1 vCPU and b.memMiB of RAM, with the test-exit device at port 0xf4.
func (b *bench) tinyArgv(c column, cmdline string, o guestOpts) []string {
	mem := strconv.Itoa(b.memMiB)
	switch c {
	case colVMM:
		argv := []string{b.vmm}
		if o.trace {
			argv = append(argv, "--log-level", "debug")
		}
		return append(argv, "run", "--boot", "pvh", "--kernel", b.kernel, "--cmdline", cmdline, "--test-exit",
			"--mem", mem+"M", "--cpus", "1", "--console", "stdio")
	case colQEMU:
		argv := []string{b.qemu}
		if o.trace {
			argv = append(argv, "-msg", "timestamp=on", "-trace", "kvm_vcpu_ioctl")
		}
		// +invtsc makes QEMU publish the TSC frequency (CPUID 0x40000010),
		// which the guest needs to report ns.
		return append(argv, "-M", "microvm,rtc=on", "-enable-kvm", "-cpu", "host,+invtsc", "-m", mem,
			"-nodefaults", "-no-user-config", "-nographic", "-serial", "stdio",
			"-device", "isa-debug-exit,iobase=0xf4,iosize=4", "-kernel", b.kernel, "-append", cmdline)
	default:
		return []string{b.floor, "-m", mem, b.kernel, cmdline}
	}
}

// passStatus is the exit status of a guest that wrote 0 (pass) to port
// 0xf4: QEMU's isa-debug-exit always exits with 2v+1.
func passStatus(c column) int {
	if c == colQEMU {
		return 1
	}
	return 0
}

// startTiny starts one tiny-kernel run. The caller holds the bench lock.
func (b *bench) startTiny(c column, cmdline string, o guestOpts) (*proc, error) {
	return startProc(b.tinyArgv(c, cmdline, o), o.stdin)
}

// runTiny boots the tiny kernel once under c, holding the bench lock, and
// checks that it printed want and exited with the pass status.
func (b *bench) runTiny(c column, cmdline, want string, o guestOpts, timeout time.Duration) (*proc, error) {
	unlock, err := b.lock(benchLock)
	if err != nil {
		return nil, err
	}
	defer unlock()
	p, err := b.startTiny(c, cmdline, o)
	if err != nil {
		return nil, err
	}
	if err := p.wait(timeout); err != nil {
		return nil, err
	}
	return p, checkPass(p, c, want)
}

// checkPass reports a run that did not end the way a passing guest does.
func checkPass(p *proc, c column, want string) error {
	if p.status != passStatus(c) {
		return fmt.Errorf("%s exited with status %d, want %d%s", p.name, p.status, passStatus(c), p.tail())
	}
	if !strings.Contains(p.stdout(), want) {
		return fmt.Errorf("%s did not print %q%s", p.name, want, p.tail())
	}
	return nil
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
