package main

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"vmm/internal/testutil"
)

// The Linux guest mounting its root filesystem through our virtio-blk
// device, found through the kernel command line (our main kernel) or
// through the ACPI DSDT (the ACPI variant, which cannot read
// virtio_mmio.device=). No initramfs: the kernel probes the device, mounts
// ext4 from it, and starts /init from it.

// keyedBuild is ROOT/<key> where scripts/guest-linux.sh puts what it builds
// from inputs (paths from the repository root): key is the first 16 hex
// digits of sha256 of the inputs' contents in that order.
func keyedBuild(t *testing.T, root string, inputs ...string) string {
	t.Helper()
	h := sha256.New()
	for _, f := range inputs {
		b, err := os.ReadFile(filepath.Join("../..", f))
		if err != nil {
			t.Fatalf("reading a guest build input: %v", err)
		}
		h.Write(b)
	}
	dir, err := filepath.Abs(filepath.Join("../../build", root, hex.EncodeToString(h.Sum(nil))[:16]))
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// needFile ends the test (testutil.Missing) unless path exists.
func needFile(t *testing.T, path, build string) {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		testutil.Missing(t, "%v: run `%s`", err, build)
	}
}

// linuxACPIGuest is the ACPI variant's vmlinux and final .config.
func linuxACPIGuest(t *testing.T) (vmlinux, config string) {
	t.Helper()
	dir := keyedBuild(t, "linux-guest", "guest/linux/vmm.config", "guest/linux/acpi.config", "guest/linux/init")
	vmlinux, config = filepath.Join(dir, "vmlinux"), filepath.Join(dir, "config")
	needFile(t, vmlinux, "scripts/guest-linux.sh build --acpi` (make linux-guest")
	needFile(t, config, "scripts/guest-linux.sh build --acpi` (make linux-guest")
	return vmlinux, config
}

// rootfsCopy copies the cached root filesystem image into a temporary
// directory (the guest writes to it) and returns the copy.
func rootfsCopy(t *testing.T) string {
	t.Helper()
	img := filepath.Join(keyedBuild(t, "linux-rootfs", "guest/linux/rootfs.conf", "guest/linux/init"), "rootfs.ext4")
	needFile(t, img, "scripts/guest-linux.sh rootfs` (make linux-guest")
	src, err := os.Open(img)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	cp := filepath.Join(t.TempDir(), "rootfs.ext4")
	dst, err := os.Create(cp)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		t.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
	return cp
}

// ext4Super holds the superblock fields the tests read (the ext4 on-disk
// layout: the superblock is 1024 bytes at offset 1024).
type ext4Super struct {
	mountTime  uint32 // s_mtime
	mountCount uint16 // s_mnt_count
	state      uint16 // s_state: bit 0 set = cleanly unmounted
}

const (
	ext4SuperOffset = 1024
	ext4Magic       = 0xef53
	ext4StateValid  = 1
)

func readExt4Super(t *testing.T, image string) ext4Super {
	t.Helper()
	f, err := os.Open(image)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sb := make([]byte, 1024)
	if _, err := f.ReadAt(sb, ext4SuperOffset); err != nil {
		t.Fatalf("reading the superblock of %s: %v", image, err)
	}
	le := binary.LittleEndian
	if m := le.Uint16(sb[0x38:]); m != ext4Magic {
		t.Fatalf("%s: superblock magic %#x, want %#x", image, m, ext4Magic)
	}
	return ext4Super{mountTime: le.Uint32(sb[0x2c:]), mountCount: le.Uint16(sb[0x34:]), state: le.Uint16(sb[0x3a:])}
}

// e2fsckClean runs `e2fsck -fn` (a full check that changes nothing) and
// fails t unless it finds nothing wrong.
func e2fsckClean(t *testing.T, image string) {
	t.Helper()
	path, err := exec.LookPath("e2fsck")
	if err != nil {
		for _, p := range []string{"/usr/sbin/e2fsck", "/sbin/e2fsck"} {
			if _, err := os.Stat(p); err == nil {
				path = p
			}
		}
	}
	if path == "" {
		testutil.Missing(t, "e2fsck not found: apt-get install e2fsprogs")
	}
	out, err := exec.Command(path, "-fn", image).CombinedOutput()
	if err != nil {
		t.Fatalf("e2fsck -fn %s: %v\n%s", image, err, out)
	}
	t.Logf("e2fsck -fn: %s", tail(string(out), 1))
}

// rootCmdline is what the root-filesystem tests pass: no initramfs, root
// on the first virtio-blk disk, /init from it.
const rootCmdline = "console=ttyS0 reboot=k panic=-1 root=/dev/vda rw rootfstype=ext4 init=/init"

var (
	vdaProbed   = regexp.MustCompile(`virtio_blk virtio0: \[vda\] 4096 4096-byte logical blocks|virtio_blk virtio0: \[vda\] 32768 512-byte logical blocks`)
	rootMounted = regexp.MustCompile(`VFS: Mounted root \(ext4 filesystem\) on device \d+:\d+\.`)
	ext4Mounted = regexp.MustCompile(`EXT4-fs \(vda\): mounted filesystem`)
)

// bootFromDisk boots vmlinux with the root filesystem on a copy of our
// image, checks what the console and the log must show, and then checks
// the image on the host: e2fsck finds nothing wrong, and the superblock
// says the kernel mounted it read-write once more than before.
func bootFromDisk(t *testing.T, vmlinux string) (console string) {
	t.Helper()
	image := rootfsCopy(t)
	before := readExt4Super(t, image)
	console, log, status := bootLinux(t, "--kernel", vmlinux, "--disk", image, "--mem", "512M",
		"--cmdline", rootCmdline, "--log-level", "info")
	defer func() {
		if t.Failed() {
			t.Logf("console (last lines):\n%s\nlog:\n%s", tail(console, 40), log)
		}
	}()
	// Our command line, and what the VMM adds last for one disk.
	cmdline := regexp.MustCompile(`(?m)^\[[ .0-9]+\] Command line: ` + regexp.QuoteMeta(rootCmdline) + `.* virtio_mmio\.device=4K@0xd0000000:5\r?$`)
	for _, re := range []*regexp.Regexp{cmdline, vdaProbed, ext4Mounted, rootMounted} {
		if !re.MatchString(console) {
			t.Errorf("console lacks a line matching %q", re)
		}
	}
	if strings.Contains(console, "Unpacking initramfs") || strings.Contains(console, "Trying to unpack rootfs") {
		t.Errorf("the kernel unpacked an initramfs; this boot has none")
	}
	_, afterInit, ok := strings.Cut(console, runInit)
	if !ok {
		t.Errorf("console lacks %q", runInit)
	}
	if onKVMPVM() {
		if !strings.Contains(afterInit, initPanic) {
			t.Errorf("console lacks %q after %q: nothing shows the kernel started init from the disk", initPanic, runInit)
		}
	} else if !regexp.MustCompile(`(?m)^VMM-INIT-REACHED cpus=1\r?$`).MatchString(afterInit) {
		t.Errorf("console lacks /init's line VMM-INIT-REACHED cpus=1 after %q", runInit)
	}
	if status != 0 {
		t.Errorf("vmm exited %d, want 0 after the guest's reset", status)
	}
	if !strings.Contains(log, "guest requested a reset through the i8042") {
		t.Errorf("log lacks the i8042 reset: the VMM did not end through reboot=k")
	}

	e2fsckClean(t, image)
	after := readExt4Super(t, image)
	if after.mountCount != before.mountCount+1 || after.mountTime == before.mountTime {
		t.Errorf("superblock: mount count %d → %d, mount time %d → %d; want one more mount, at a new time",
			before.mountCount, after.mountCount, before.mountTime, after.mountTime)
	}
	// Without a journal ext4 clears the clean bit when it mounts read-write
	// and sets it again only when it unmounts, which the guest never does.
	if before.state&ext4StateValid == 0 || after.state&ext4StateValid != 0 {
		t.Errorf("superblock state %#x → %#x: want clean before and mounted read-write (not clean) after", before.state, after.state)
	}
	t.Logf("superblock: mount count %d → %d, state %#x → %#x", before.mountCount, after.mountCount, before.state, after.state)
	return console
}

// TestLinuxRootOnVirtioBlk: our main kernel finds the disk through
// virtio_mmio.device= on the command line and boots from it.
func TestLinuxRootOnVirtioBlk(t *testing.T) {
	needKVM(t)
	vmlinux, _ := linuxGuest(t)
	bootFromDisk(t, vmlinux)
}

// TestLinuxACPIRootOnVirtioBlk: the ACPI variant, which has no
// virtio_mmio.device= parameter, finds the disk in the DSDT and boots from
// it.
func TestLinuxACPIRootOnVirtioBlk(t *testing.T) {
	needKVM(t)
	vmlinux, config := linuxACPIGuest(t)
	cfg, err := os.ReadFile(config)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{"CONFIG_ACPI=y", "# CONFIG_VIRTIO_MMIO_CMDLINE_DEVICES is not set"} {
		if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(line) + `$`).Match(cfg) {
			t.Fatalf("%s lacks %q: this kernel does not prove ACPI discovery", config, line)
		}
	}
	console := bootFromDisk(t, vmlinux)
	for _, re := range []*regexp.Regexp{
		// The kernel read our tables at our address.
		regexp.MustCompile(`ACPI: DSDT 0x0*E0400 [0-9A-F]+ \(v02 VMMGO  VMMTABLE`),
		regexp.MustCompile(`ACPI: Interpreter enabled`),
		// ACPICA loaded our AML.
		regexp.MustCompile(`ACPI: 1 ACPI AML tables successfully acquired and loaded`),
		// COM1 from the DSDT, claimed by the PNP serial driver (Linux
		// numbers its GSI 4 dynamically: no legacy PIC under a
		// hardware-reduced FADT).
		regexp.MustCompile(`00:00: ttyS0 at I/O 0x3f8 \(irq = \d+`),
	} {
		if !re.MatchString(console) {
			t.Errorf("console lacks a line matching %q", re)
		}
	}
	if t.Failed() {
		t.Logf("console:\n%s", console)
	}
}
