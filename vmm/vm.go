package vmm

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/sirupsen/logrus"

	"vmm/devices"
	"vmm/guestmem"
	"vmm/kvm"
)

// Platform constants; every address is in layout.go.
const (
	serialPort     = 0x3f8
	serialIRQ      = 4
	i8042IRQ       = 1    // the keyboard's ISA IRQ
	testIRQGSI     = 24   // first GSI past the IOAPIC's pins
	testIRQVector  = 0x40 // vector the test kernel expects
	ioapicPins     = 24
	picPins        = 16
	pitFlagSpeaker = 1 // KVM_PIT_SPEAKER_DUMMY: port 0x61 handled in kernel
)

// VM is one virtual machine: KVM handles, guest RAM, devices and vCPUs.
type VM struct {
	cfg            Config
	sys            *kvm.System
	vm             *kvm.VM
	mem            *guestmem.Memory
	kernel         *Kernel
	supportedCPUID []kvm.CPUIDEntry2
	pio, mmio      *devices.Bus
	serial         *devices.Serial
	console        *consoleOutput
	testIRQ        *testIRQ
	disks          []*diskImage
	virtio         *deviceManager
	repairs        *repairCounters
	noHypercalls   bool // hide VMCALL-based PV features (kvm_pvm)
	i8042          *devices.I8042
	exits          []vcpuExits // by vCPU id
	timing         runTiming

	diskMu      sync.Mutex      // guards attached, disks after New, disksClosed
	attached    []*attachedDisk // the disks' devices, in Config.Disks order
	disksClosed bool

	stopOnce sync.Once
	stopped  chan struct{}
	result   Result
	vcpusMu  sync.Mutex
	vcpus    []*vcpuThread
}

// New validates cfg, parses the kernel, creates the VM and loads the guest.
// Nothing runs until Run.
func New(cfg Config) (_ *VM, err error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	var k *Kernel
	if err := guardFaults("kernel "+cfg.KernelName, func() (err error) {
		k, err = ParseKernelFor(cfg.Kernel, cfg.Boot)
		return err
	}); err != nil {
		return nil, fmt.Errorf("kernel %s: %w", cfg.KernelName, err)
	}
	if k.Protocol == BootMultiboot && k.MultibootFlags&mbFlagVideo != 0 {
		logrus.Warn("the multiboot header asks for video mode information (flag 2): vmm has no display and boots without it, as QEMU does")
	}
	backends := hostBackends()
	if cfg.Cmdline, err = backendWorkarounds(cfg.Workarounds, k, cfg.Cmdline, backends); err != nil {
		return nil, err
	}
	if cfg.Device == "" {
		cfg.Device = kvm.DefaultDevice
	}
	// Devices are found through the command line (and the ACPI DSDT).
	cfg.Cmdline = strings.TrimSpace(cfg.Cmdline + virtioCmdline(len(cfg.Disks)))
	vm := &VM{cfg: cfg, kernel: k, stopped: make(chan struct{}), repairs: newRepairCounters(),
		noHypercalls: hideHypercalls(cfg.Workarounds, backends), exits: make([]vcpuExits, cfg.CPUs)}
	defer func() {
		if err != nil {
			vm.Close()
		}
	}()
	// Disks first: a locked or missing image fails before any real work.
	for _, d := range cfg.Disks {
		img, err := openDisk(d)
		if err != nil {
			return nil, err
		}
		vm.disks = append(vm.disks, img)
	}
	if vm.sys, err = kvm.Open(cfg.Device); err != nil {
		return nil, fmt.Errorf("%w (run `vmm check` to see what to fix)", err)
	}
	if v, err := vm.sys.APIVersion(); err != nil || v != kvm.APIVersion12 {
		return nil, fmt.Errorf("%s answers KVM API version %d (%v), not %d: this kernel's KVM is not one vmm can drive", cfg.Device, v, err, kvm.APIVersion12)
	}
	if max, err := vm.sys.CheckExtension(kvm.CapMaxVCPUs); err == nil && max > 0 && cfg.CPUs > max {
		return nil, fmt.Errorf("--cpus %d: this host's KVM allows at most %d vCPUs", cfg.CPUs, max)
	}
	if vm.vm, err = vm.sys.CreateVM(); err != nil {
		return nil, fmt.Errorf("create VM: %w", err)
	}
	// KVM_GET_SUPPORTED_CPUID costs 0.7-0.9 ms on kvm_pvm and nothing until
	// the vCPUs are configured needs it: fetch it while the guest loads.
	cpuidDone := make(chan error, 1)
	go func() {
		var err error
		vm.supportedCPUID, err = vm.sys.SupportedCPUID()
		cpuidDone <- err
	}()
	waitCPUID := sync.OnceValue(func() error { return <-cpuidDone })
	defer func() { _ = waitCPUID() }() // before the Close above: no ioctl may outlive it
	if vm.mem, err = newGuestRAM(cfg.MemSize, cfg.HugePages); err != nil {
		return nil, err
	}
	if err := guardFaults("kernel or initrd", func() error { return loadGuest(vm.mem, k, &vm.cfg) }); err != nil {
		return nil, err
	}
	// The loaded image lives in guest RAM now: drop the references to the
	// caller's buffers (mappings of the input files), which may go away.
	vm.cfg.Kernel, vm.cfg.Initrd = nil, nil
	for i := range k.Segments {
		k.Segments[i].Data = nil
	}
	if err := vm.setupPlatform(); err != nil {
		return nil, err
	}
	if err := vm.setupDevices(); err != nil {
		return nil, err
	}
	if err := waitCPUID(); err != nil {
		return nil, fmt.Errorf("get supported CPUID: %w", err)
	}
	logrus.WithFields(logrus.Fields{"kernel": cfg.KernelName, "format": k.Format, "protocol": k.Protocol.String(),
		"entry": fmt.Sprintf("%#x", k.Entry), "mem": FormatSize(cfg.MemSize), "cpus": cfg.CPUs}).Info("guest loaded")
	return vm, nil
}

// setupPlatform registers guest RAM and creates the in-kernel interrupt
// controllers and PIT.
func (vm *VM) setupPlatform() error {
	if err := vm.vm.SetTSSAddr(tssAddr); err != nil {
		return fmt.Errorf("set TSS address: %w", err)
	}
	if err := vm.vm.SetIdentityMapAddr(identityMapAddr); err != nil {
		logrus.WithError(err).Debug("KVM_SET_IDENTITY_MAP_ADDR failed (not needed by every backend)")
	}
	for i := range vm.mem.Regions {
		r := &vm.mem.Regions[i]
		if err := vm.vm.SetUserMemoryRegion(&kvm.UserspaceMemoryRegion{
			Slot: r.Slot, GuestPhysAddr: r.GPA, MemorySize: uint64(len(r.Mem)), UserspaceAddr: r.HostAddr(),
		}); err != nil {
			return fmt.Errorf("register guest RAM at %#x: %w", r.GPA, err)
		}
	}
	if err := vm.vm.CreateIRQChip(); err != nil {
		return fmt.Errorf("create in-kernel irqchip: %w", err)
	}
	if err := vm.vm.CreatePIT2(pitFlagSpeaker); err != nil {
		return fmt.Errorf("create in-kernel PIT: %w", err)
	}
	return nil
}

// setupDevices builds the buses and attaches the legacy devices.
func (vm *VM) setupDevices() error {
	vm.pio = devices.NewPIOBus()
	vm.mmio = devices.NewMMIOBus()
	vm.console = newConsoleOutput(vm.cfg.Console, vm.cfg.ConsoleLimit, func(err error) {
		vm.Stop(Result{Status: 1, Err: fmt.Errorf("console output failed (%v): stopped the VM", err)})
	})
	vm.serial = devices.NewSerial(vm.console, irqLine{vm.vm, serialIRQ})
	i8042 := devices.NewI8042(func() {
		logrus.Info("guest requested a reset through the i8042; stopping")
		vm.Stop(Result{Status: 0, Reason: ReasonReset})
	})
	i8042.ConnectIRQ(irqLine{vm.vm, i8042IRQ})
	vm.i8042 = i8042
	regs := []attachment{
		{vm.pio, serialPort, devices.SerialSize, vm.serial},
		{vm.pio, devices.I8042DataPort, 1, i8042.Port(devices.I8042DataPort)},
		{vm.pio, devices.I8042CommandPort, 1, i8042.Port(devices.I8042CommandPort)},
		{vm.pio, devices.FWCfgPort, devices.FWCfgPortSize,
			devices.NewFWCfg(vm.cfg.MemSize, uint16(vm.cfg.CPUs), uint16(vm.cfg.CPUs))},
	}
	routes := defaultIRQRoutes()
	if vm.cfg.TestExit {
		efd, err := newEventFD()
		if err != nil {
			return fmt.Errorf("test device eventfd: %w", err)
		}
		if err := vm.vm.IRQFD(&kvm.IRQFD{FD: uint32(efd.fd), GSI: testIRQGSI}); err != nil {
			efd.close()
			return fmt.Errorf("test device irqfd: %w", err)
		}
		vm.testIRQ = newTestIRQ(efd)
		// MSI to APIC id 0, fixed delivery, edge (Intel SDM Vol. 3A, 10.11).
		routes = append(routes, kvm.NewMSIRoute(testIRQGSI, lapicAddr, 0, testIRQVector))
		td := devices.NewTestDevice(func(value uint32) {
			status := TestExitStatus(value)
			logrus.WithFields(logrus.Fields{"value": value, "status": status}).Info("guest wrote to the test-exit port; stopping")
			vm.Stop(Result{Status: status, Reason: ReasonTestExit, TestExitValue: value})
		}, vm.testIRQ.request)
		pc := devices.NewPCTestDev(vm.ioapicLines(devices.PCTestIRQLines))
		regs = append(regs,
			attachment{vm.pio, devices.TestDevicePort, devices.TestDevicePortSize, td},
			attachment{vm.mmio, testMMIOBase, devices.TestMMIOSize, td.MMIO()},
			attachment{vm.pio, devices.PCTestDevPort, devices.PCTestDevPortSize, pc},
			attachment{vm.pio, devices.PCTestIRQPort, devices.PCTestIRQLines, pc.IRQPorts()})
	}
	if err := vm.vm.SetGSIRouting(routes); err != nil {
		return fmt.Errorf("set GSI routing: %w", err)
	}
	vm.virtio = &deviceManager{vm: vm.vm, mem: vm.mem, mmio: vm.mmio}
	for _, img := range vm.disks {
		if err := vm.addDisk(img); err != nil {
			return err
		}
	}
	for _, r := range regs {
		if err := r.bus.Register(r.base, r.size, r.dev); err != nil {
			return err
		}
	}
	return nil
}

// attachment is a device and where it sits on a bus.
type attachment struct {
	bus        *devices.Bus
	base, size uint64
	dev        devices.Device
}

// defaultIRQRoutes reproduces KVM's default routing (GSIs 0-15 to both the
// PICs and the IOAPIC, 16-23 to the IOAPIC), which KVM_SET_GSI_ROUTING
// would otherwise replace.
func defaultIRQRoutes() []kvm.IRQRoutingEntry {
	var r []kvm.IRQRoutingEntry
	for gsi := uint32(0); gsi < ioapicPins; gsi++ {
		if gsi < picPins {
			chip, pin := uint32(kvm.IRQChipPICMaster), gsi
			if gsi >= 8 {
				chip, pin = kvm.IRQChipPICSlave, gsi-8
			}
			r = append(r, kvm.NewIRQChipRoute(gsi, chip, pin))
		}
		r = append(r, kvm.NewIRQChipRoute(gsi, kvm.IRQChipIOAPIC, gsi))
	}
	return r
}

// SetConsole sends guest console output to w instead of Config.Console,
// with the same limit. Call it before Run: a console file can then be
// opened only once the VM has been built, so a failed start never touches it.
func (vm *VM) SetConsole(w io.Writer) { vm.console.sink = w }

// Serial returns the guest's console UART, for feeding it input.
func (vm *VM) Serial() *devices.Serial { return vm.serial }

// Stop ends the VM with r; the first call wins. Safe from any goroutine.
func (vm *VM) Stop(r Result) {
	vm.stopOnce.Do(func() {
		vm.timing.markStopped()
		vm.result = r.withReason()
		close(vm.stopped)
		vm.vcpusMu.Lock()
		for _, t := range vm.vcpus {
			t.kick()
		}
		vm.vcpusMu.Unlock()
	})
}

// Stopped is closed when the VM has been asked to stop.
func (vm *VM) Stopped() <-chan struct{} { return vm.stopped }

// Close releases everything New acquired. Call it after Run returns.
//
// Teardown order: every goroutine that uses a descriptor (vCPU threads,
// which Run has joined; the console pump; the test irqfd worker) is
// stopped and joined before any descriptor closes, so no ioctl or write can
// reach a closed descriptor number that the process has since reused.
func (vm *VM) Close() {
	vm.closeDiskUpdates()
	if vm.console != nil {
		vm.console.close()
	}
	if vm.testIRQ != nil {
		vm.testIRQ.close()
	}
	if vm.virtio != nil {
		vm.virtio.close() // queue workers finish their I/O before the disks close
	}
	for _, d := range vm.disks {
		d.close()
	}
	if vm.vm != nil {
		_ = vm.vm.Close()
	}
	if vm.sys != nil {
		_ = vm.sys.Close()
	}
	if vm.mem != nil {
		vm.mem.Close()
	}
}

// ioapicLines returns IOAPIC inputs 0..n-1. With the default routing GSI
// n is IOAPIC pin n (and, below 16, also the matching 8259 input).
func (vm *VM) ioapicLines(n int) []devices.IRQLine {
	lines := make([]devices.IRQLine, n)
	for i := range lines {
		lines[i] = irqLine{vm.vm, uint32(i)}
	}
	return lines
}

// irqLine drives a GSI of the in-kernel irqchip with KVM_IRQ_LINE.
type irqLine struct {
	vm  *kvm.VM
	gsi uint32
}

func (l irqLine) SetLevel(high bool) error { return l.vm.IRQLine(l.gsi, high) }

// errStopped marks a vCPU loop that ended because the VM was stopped.
var errStopped = errors.New("stopped")
