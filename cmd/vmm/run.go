package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"vmm/vmm"
	"vmm/vmm/sandbox"
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
	// Driving vmm from programs (run_api.go, result.go).
	configFile, apiSock, resultJSON, id string
	timeout                             time.Duration
	// The sandbox installed before the first KVM_RUN (run_sandbox.go).
	seccomp  string
	landlock bool
	uid, gid int
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
	fl.StringVar(&f.configFile, "config-file", "", "configure the VM from a Firecracker JSON configuration file; flags given as well override it (docs/api.md)")
	fl.StringVar(&f.apiSock, "api-sock", "", "serve Firecracker's HTTP API on this Unix socket; without --config-file, wait for the API to configure and start the VM")
	fl.StringVar(&f.id, "id", "", "instance id the API reports (default \"anonymous-instance\")")
	fl.StringVar(&f.resultJSON, "result-json", "", "write how the run ended (status, reason, timings, counters) to this file as JSON, whatever the exit path")
	fl.StringVar(&f.seccomp, "seccomp", string(sandbox.SeccompKill), "system call filter once the VM is built: kill (a call off the list ends vmm), log (it runs and the kernel logs it: dmesg | grep type=1326), off")
	fl.BoolVar(&f.landlock, "landlock", true, "once the VM is built, reach only the files it was given (Landlock; best effort on kernels without it)")
	fl.IntVar(&f.uid, "uid", -1, "user id to drop to once the VM is built (vmm must start as root; -1 keeps it)")
	fl.IntVar(&f.gid, "gid", -1, "group id to drop to once the VM is built (vmm must start as root; -1 keeps it)")
	fl.DurationVar(&f.timeout, "timeout", 0, fmt.Sprintf("stop the VM after this long (e.g. 30s, 5m) and exit with status %d; 0: no limit", exitTimeout))
	return cmd
}

// runVM configures the VM from flags (and --config-file), boots it, or
// serves the API until it is started, and maps how it ended to an exit
// status. --result-json is written whichever way this returns.
func runVM(cmd *cobra.Command, f runFlags) (err error) {
	report := newRunReport(f.resultJSON)
	report.timeout = f.timeout
	defer func() { err = report.finish(err) }()
	sigs, stopSignals := catchSignals()
	defer stopSignals()
	if err := checkResultPath(f.resultJSON); err != nil {
		return err
	}
	plan, err := newRunPlan(cmd, f)
	if err != nil {
		return err
	}
	if plan.sandbox.Seccomp != sandbox.SeccompOff || plan.sandbox.Landlock {
		// Emptying the bounding set takes nothing vmm holds and costs one
		// all-thread call per capability: done now, while the process has
		// few threads, it stays off the path to the first KVM_RUN.
		if err := sandbox.DropBoundingSet(); err != nil {
			return err
		}
	}
	r := newRunner(plan, report, sigs)
	defer r.close()
	if err := r.configureOutputs(cmd); err != nil {
		return err
	}
	if f.apiSock != "" {
		return r.serveAPI()
	}
	if err := r.build(plan.res); err != nil {
		return err
	}
	return r.run()
}
