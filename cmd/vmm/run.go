package main

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/sirupsen/logrus"
	"github.com/spf13/cobra"

	"vmm/vmm"
)

// defaultCmdline is used for a user kernel when --cmdline is not given:
// serial console, and a panic or reboot ends the VMM through the i8042.
const defaultCmdline = "console=ttyS0 reboot=k panic=-1 pci=off nomodule"

type runFlags struct {
	kernel, initrd, cmdline, mem, console, device string
	workarounds, consoleLimit, boot               string
	cpus                                          int
	testExit                                      bool
	disks                                         []string
}

func newRunCommand() *cobra.Command {
	var f runFlags
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Boot a guest kernel",
		Long: "Boot a guest kernel (ELF vmlinux through PVH or the 64-bit Linux boot protocol, bzImage, or a multiboot kernel) with a serial console.\n" +
			"With no --kernel, boots the built-in tiny test kernel's demo.\n" +
			"On an interactive console, Ctrl-A x quits.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runVM(cmd, f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.kernel, "kernel", "", "guest kernel: ELF vmlinux, bzImage or multiboot kernel (default: the built-in tiny test kernel)")
	fl.StringVar(&f.boot, "boot", vmm.BootChoiceAuto, "boot protocol: "+strings.Join(vmm.BootChoices, ", ")+" (auto picks from the image)")
	fl.StringVar(&f.initrd, "initrd", "", "initial ramdisk to load for the kernel")
	fl.StringVar(&f.cmdline, "cmdline", "", "kernel command line (default for --kernel: \""+defaultCmdline+"\")")
	fl.StringVar(&f.mem, "mem", "256M", "guest memory size, e.g. 256M or 2G")
	fl.IntVar(&f.cpus, "cpus", 1, fmt.Sprintf("number of vCPUs (1 to %d, and no more than KVM allows)", vmm.MaxCPUs))
	fl.StringVar(&f.console, "console", "stdio", "serial console: stdio, none, or file:PATH (created 0600, or truncated once the VM is built; never a symlink)")
	fl.StringVar(&f.consoleLimit, "console-limit", "64M", "most guest output a file console receives (0: no limit); the rest is discarded")
	fl.StringArrayVar(&f.disks, "disk", nil, fmt.Sprintf("virtio block device: PATH[,ro][,direct][,id=NAME][,engine=uring|sync]; repeat for up to %d disks", vmm.MaxDisks))
	fl.BoolVar(&f.testExit, "test-exit", false, "attach the test device: a guest write to port 0xf4 becomes the exit status")
	fl.StringVar(&f.device, "device", "/dev/kvm", "KVM device")
	fl.StringVar(&f.workarounds, "workarounds", "auto", "kernel parameters for KVM backends that cannot run some instructions (kvm_pvm): auto, on or off")
	return cmd
}

// runVM turns flags into a vmm.Config, boots the VM and maps its result to
// an exit status.
func runVM(cmd *cobra.Command, f runFlags) error {
	sigs, stopSignals := catchSignals()
	defer stopSignals()
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
	if !vmm.ValidBoot(f.boot) {
		return usagef("--boot %q: use %s", f.boot, strings.Join(vmm.BootChoices, ", "))
	}
	consoleLimit, err := vmm.ParseSize(f.consoleLimit)
	if err != nil {
		return usagef("--console-limit: %v", err)
	}
	disks, err := parseDisks(f.disks)
	if err != nil {
		return err
	}
	spec, err := parseConsole(f.console)
	if err != nil {
		return err
	}
	if err := spec.precheck(); err != nil {
		return err
	}
	cfg := vmm.Config{Device: f.device, MemSize: mem, CPUs: f.cpus, TestExit: f.testExit, Cmdline: f.cmdline,
		Workarounds: f.workarounds, Boot: f.boot, Disks: disks}
	if spec.kind == "file" {
		cfg.ConsoleLimit = consoleLimit
	}
	var kernel, initrd *inputFile
	defer func() { kernel.close(); initrd.close() }()
	if f.kernel == "" {
		if cfg.Kernel, err = embeddedKernel(); err != nil {
			return err
		}
		cfg.KernelName = "built-in:tiny.elf" // one word: multiboot passes it as argv[0]
	} else {
		if kernel, err = openInput("kernel", f.kernel, mem); err != nil {
			return err
		}
		cfg.Kernel, cfg.KernelName = kernel.data, f.kernel
		if !cmd.Flags().Changed("cmdline") {
			cfg.Cmdline = defaultCmdline
		}
	}
	if f.initrd != "" {
		if initrd, err = openInput("initrd", f.initrd, mem); err != nil {
			return err
		}
		cfg.Initrd, cfg.InitrdName = initrd.data, f.initrd
	}
	vm, err := vmm.New(cfg)
	if err != nil {
		return err
	}
	defer vm.Close()
	kernel.close() // loaded into guest RAM: the mappings can go
	initrd.close()

	// Only now, with the VM built, is the console file created or truncated.
	console, err := spec.open()
	if err != nil {
		return err
	}
	defer console.close()
	vm.SetConsole(console.writer())
	restore, waitInput, err := console.startInput(vm)
	if err != nil {
		console.abandon()
		return err
	}
	defer restore()
	done := make(chan struct{})
	defer close(done)
	go watchSignals(sigs, done, vm, restore)

	res := vm.Run()
	waitInput()
	restore()
	logrus.Info("emulation repairs: " + vm.Repairs())
	if res.Err != nil {
		// The one-line summary first, then the details for a bug report.
		fmt.Fprintln(os.Stderr, "vmm: "+res.Err.Error())
		var crash *vmm.GuestCrash
		if errors.As(res.Err, &crash) && crash.Dump != "" {
			fmt.Fprint(os.Stderr, crash.Dump)
		}
		return &exitError{code: max(res.Status, 1)}
	}
	if res.Status != 0 {
		return &exitError{code: res.Status}
	}
	return nil
}
