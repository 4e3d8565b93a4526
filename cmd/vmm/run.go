package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"

	"github.com/sirupsen/logrus"
	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"
	"golang.org/x/term"

	"vmm/vmm"
)

// defaultCmdline is used for a user kernel when --cmdline is not given:
// serial console, and a panic or reboot ends the VMM through the i8042.
const defaultCmdline = "console=ttyS0 reboot=k panic=-1 pci=off nomodule"

type runFlags struct {
	kernel, initrd, cmdline, mem, console, device string
	workarounds                                   string
	cpus                                          int
	testExit                                      bool
}

func newRunCommand() *cobra.Command {
	var f runFlags
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Boot a guest kernel",
		Long: "Boot a guest kernel (ELF vmlinux, PVH or 64-bit Linux boot, or bzImage) with a serial console.\n" +
			"With no --kernel, boots the built-in tiny test kernel's demo.\n" +
			"On an interactive console, Ctrl-A x quits.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runVM(cmd, f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.kernel, "kernel", "", "guest kernel: ELF vmlinux or bzImage (default: the built-in tiny test kernel)")
	fl.StringVar(&f.initrd, "initrd", "", "initial ramdisk to load for the kernel")
	fl.StringVar(&f.cmdline, "cmdline", "", "kernel command line (default for --kernel: \""+defaultCmdline+"\")")
	fl.StringVar(&f.mem, "mem", "256M", "guest memory size, e.g. 256M or 2G")
	fl.IntVar(&f.cpus, "cpus", 1, fmt.Sprintf("number of vCPUs (1 to %d, and no more than KVM allows)", vmm.MaxCPUs))
	fl.StringVar(&f.console, "console", "stdio", "serial console: stdio, none, or file:PATH")
	fl.BoolVar(&f.testExit, "test-exit", false, "attach the test device: a guest write to port 0xf4 becomes the exit status")
	fl.StringVar(&f.device, "device", "/dev/kvm", "KVM device")
	fl.StringVar(&f.workarounds, "workarounds", "auto", "kernel parameters for KVM backends that cannot run some instructions (kvm_pvm): auto, on or off")
	return cmd
}

// runVM turns flags into a vmm.Config, boots the VM and maps its result to
// an exit status.
func runVM(cmd *cobra.Command, f runFlags) error {
	// Catch stop signals from the start: one that arrives while the guest
	// is being loaded is delivered to the VM as soon as it exists.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, unix.SIGINT, unix.SIGTERM, unix.SIGHUP)
	defer signal.Stop(sigs)
	mem, err := vmm.ParseSize(f.mem)
	if err != nil {
		return usagef("--mem: %v", err)
	}
	if f.cpus < 1 || f.cpus > vmm.MaxCPUs {
		return usagef("--cpus %d is out of range: use 1 to %d", f.cpus, vmm.MaxCPUs)
	}
	switch f.workarounds {
	case vmm.WorkaroundsAuto, vmm.WorkaroundsOn, vmm.WorkaroundsOff:
	default:
		return usagef("--workarounds %q: use auto, on or off", f.workarounds)
	}
	cfg := vmm.Config{Device: f.device, MemSize: mem, CPUs: f.cpus, TestExit: f.testExit, Cmdline: f.cmdline, Workarounds: f.workarounds}
	if f.kernel == "" {
		if cfg.Kernel, err = embeddedKernel(); err != nil {
			return err
		}
		cfg.KernelName = "(built-in tiny kernel)"
	} else {
		if cfg.Kernel, err = readInput("kernel", f.kernel); err != nil {
			return err
		}
		cfg.KernelName = f.kernel
		if !cmd.Flags().Changed("cmdline") {
			cfg.Cmdline = defaultCmdline
		}
	}
	if f.initrd != "" {
		if cfg.Initrd, err = readInput("initrd", f.initrd); err != nil {
			return err
		}
		cfg.InitrdName = f.initrd
	}
	console, err := openConsole(f.console)
	if err != nil {
		return err
	}
	cfg.Console = console.out
	vm, err := vmm.New(cfg)
	if err != nil {
		console.abandon()
		return err
	}
	defer vm.Close()
	defer console.close()

	restore := console.start(vm)
	go func() {
		select {
		case s := <-sigs:
			logrus.WithField("signal", s.String()).Info("stopping on signal")
			vm.Stop(vmm.Result{Status: 0})
		case <-vm.Stopped():
		}
	}()
	res := vm.Run()
	restore()
	logrus.Info("emulation repairs: " + vm.Repairs())

	if res.Err != nil {
		var crash *vmm.GuestCrash
		if errors.As(res.Err, &crash) && crash.Dump != "" {
			fmt.Fprint(os.Stderr, crash.Dump)
		}
		return &exitError{code: max(res.Status, 1), msg: res.Err.Error()}
	}
	if res.Status != 0 {
		return &exitError{code: res.Status}
	}
	return nil
}

// readInput reads a kernel or initrd file, naming the file and the problem
// on failure.
func readInput(what, path string) ([]byte, error) {
	st, err := os.Stat(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil, fmt.Errorf("%s %s does not exist", what, path)
	case err != nil:
		return nil, fmt.Errorf("%s %s: %v", what, path, unwrapPathError(err))
	case st.IsDir():
		return nil, fmt.Errorf("%s %s is a directory, not a file", what, path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %v", what, path, unwrapPathError(err))
	}
	if len(b) == 0 {
		return nil, fmt.Errorf("%s %s is empty", what, path)
	}
	return b, nil
}

func unwrapPathError(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// console is where the guest's serial port goes.
type console struct {
	out     io.Writer
	file    *os.File // for file:PATH
	created bool     // the file did not exist before
	stdio   bool
}

func openConsole(spec string) (*console, error) {
	switch {
	case spec == "stdio":
		return &console{out: os.Stdout, stdio: true}, nil
	case spec == "none":
		return &console{out: io.Discard}, nil
	case strings.HasPrefix(spec, "file:") && len(spec) > len("file:"):
		path := strings.TrimPrefix(spec, "file:")
		_, statErr := os.Stat(path)
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
		if err != nil {
			return nil, fmt.Errorf("--console %s: %v", spec, unwrapPathError(err))
		}
		return &console{out: f, file: f, created: errors.Is(statErr, os.ErrNotExist)}, nil
	}
	return nil, usagef("--console %q is not a console: use stdio, none or file:PATH", spec)
}

// start feeds stdin to the guest and, on a terminal, switches it to raw
// mode. The returned function restores the terminal; it is safe to call
// more than once.
func (c *console) start(vm *vmm.VM) (restore func()) {
	restore = func() {}
	if !c.stdio {
		return restore
	}
	fd := int(os.Stdin.Fd())
	interactive := term.IsTerminal(fd)
	if interactive {
		if old, err := term.MakeRaw(fd); err == nil {
			done := false
			restore = func() {
				if !done {
					done = true
					_ = term.Restore(fd, old)
				}
			}
		}
	}
	go vmm.PumpInput(os.Stdin, vm.Serial(), interactive, func() {
		logrus.Info("Ctrl-A x: quitting")
		vm.Stop(vmm.Result{Status: 0})
	})
	return restore
}

func (c *console) close() {
	if c.file != nil {
		_ = c.file.Close()
	}
}

// abandon undoes openConsole when the VM never started: no stray file.
func (c *console) abandon() {
	c.close()
	if c.file != nil && c.created {
		_ = os.Remove(c.file.Name())
	}
}
