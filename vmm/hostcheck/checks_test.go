//go:build linux

package hostcheck

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestNodeCheckMessages(t *testing.T) {
	dir := t.TempDir()
	reg := filepath.Join(dir, "file")
	if err := os.WriteFile(reg, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	seen := map[string]string{}
	for _, c := range []struct{ path, want string }{
		{filepath.Join(dir, "missing"), "does not exist"},
		{reg, "is a regular file, not a device node"},
		{dir, "is a directory"},
		{"/dev/null", "is character device 1:3 (that is /dev/null), not KVM (10:232)"},
	} {
		got := nodeCheck(c.path)
		if got.Status != Fail || !strings.Contains(got.Detail, c.want) || got.Fix == "" {
			t.Errorf("nodeCheck(%s) = %+v; want a fail containing %q with a fix", c.path, got, c.want)
		}
		if prev, dup := seen[got.Detail]; dup {
			t.Errorf("%s and %s give the same message", prev, c.path)
		}
		seen[got.Detail] = c.path
	}
	if _, err := os.Stat("/dev/kvm"); err == nil {
		if got := nodeCheck("/dev/kvm"); got.Status != Pass {
			t.Errorf("nodeCheck(/dev/kvm) = %+v", got)
		}
	}
}

func TestAccessCheckUnprivileged(t *testing.T) {
	d := &deviceInfo{path: "/dev/kvm", uid: 0, gid: 0, mode: 0o600, acl: aclFromMode(0o600), aclNote: "no ACL"}
	h := &host{creds: creds{euid: 65534, egid: 65534, userName: "nobody"}}
	c := accessCheck(h, d)
	if c.Status != Fail || !strings.Contains(c.Fix, "setfacl -m u:nobody:rw /dev/kvm") || !strings.Contains(c.Fix, "usermod -aG kvm nobody") {
		t.Fatalf("accessCheck = %+v", c)
	}
	if strings.Contains(c.Fix, "CAP_SYS_ADMIN") || strings.Contains(c.Fix, "sudo") {
		t.Errorf("fix suggests privileges: %q", c.Fix)
	}
	// A group that already has rw: join it.
	d.gid, d.mode, d.acl = 36, 0o660, aclFromMode(0o660)
	c = accessCheck(h, d)
	if c.Status != Fail || !strings.Contains(c.Fix, "usermod -aG "+groupName(36)+" nobody") {
		t.Fatalf("accessCheck with a rw group = %+v", c)
	}
	h.creds.groups = []int{36}
	if c := accessCheck(h, d); c.Status != Pass || !strings.Contains(c.Detail, "nobody is in group") {
		t.Fatalf("member of the rw group: %+v", c)
	}
	// CAP_DAC_OVERRIDE grants what the bits do not, and says so.
	h.creds.groups = nil
	h.capEff, h.capOK = 1<<capDACOverride, true
	if c := accessCheck(h, d); c.Status != Pass || !strings.Contains(c.Detail, "CAP_DAC_OVERRIDE") {
		t.Fatalf("with CAP_DAC_OVERRIDE: %+v", c)
	}
}

func TestCapabilities(t *testing.T) {
	caps, ok := parseCapEff("Name:\tx\nCapInh:\t0000000000000000\nCapEff:\t0000000000204002\n")
	if !ok || caps != 0x204002 {
		t.Fatalf("parseCapEff = %#x, %v", caps, ok)
	}
	if got := capList(caps); got != "cap_dac_override,cap_ipc_lock,cap_sys_admin" {
		t.Errorf("capList = %q", got)
	}
	if _, ok := parseCapEff("CapEff:\tzz\n"); ok {
		t.Errorf("parseCapEff accepted garbage")
	}
	const note = " (for information: running VMs needs read/write access to the KVM device, no capability)"
	for _, c := range []struct {
		h    *host
		want string
	}{
		{&host{capEff: 0, capOK: true}, "effective: none" + note},
		{&host{capEff: 0x204002, capOK: true}, "effective: cap_dac_override,cap_ipc_lock,cap_sys_admin" + note},
		{&host{capEff: 1<<40 | 1<<45, capOK: true}, "effective: cap_checkpoint_restore,cap_45" + note},
		// Root in a container: every capability but CAP_SYS_RESOURCE (24).
		{&host{capEff: 0x1fffeffffff, capOK: true}, "effective: 0x1fffeffffff, all but cap_sys_resource" + note},
		{&host{capEff: 0x1ffffffffff, capOK: true}, "effective: 0x1ffffffffff, all" + note},
		{&host{}, "could not read CapEff from /proc/self/status (for information only: KVM needs read/write access to the device, no capability)"},
	} {
		got := checkCapabilities(c.h)
		if len(got) != 1 || got[0].Name != "capabilities" || got[0].Status != Pass || got[0].Detail != c.want {
			t.Errorf("checkCapabilities(%#x) = %+v\nwant detail %q", c.h.capEff, got, c.want)
		}
	}
}

func TestBackendAndHypervisorFlag(t *testing.T) {
	if !hasHypervisorFlag("processor\t: 0\nflags\t\t: fpu vme hypervisor lahf_lm\n") {
		t.Errorf("hypervisor flag not found")
	}
	if hasHypervisorFlag("flags\t\t: fpu vme hypervisorx\nflags : hypervisor\n") {
		t.Errorf("matched a substring / a later CPU")
	}
	old := sysModule
	defer func() { sysModule = old }()
	sysModule = t.TempDir()
	os.MkdirAll(filepath.Join(sysModule, "kvm_intel", "parameters"), 0o755)
	os.WriteFile(filepath.Join(sysModule, "kvm_intel", "parameters", "nested"), []byte("Y\n"), 0o644)
	if c := backendCheck(); c.Status != Pass || !strings.Contains(c.Detail, "kvm_intel (Intel VT-x), nested=Y") {
		t.Errorf("backendCheck = %+v", c)
	}
	sysModule = t.TempDir()
	os.Mkdir(filepath.Join(sysModule, "kvm"), 0o755)
	if c := backendCheck(); c.Status != Warn || !strings.Contains(c.Fix, "modprobe") {
		t.Errorf("backendCheck without a backend = %+v", c)
	}
}

func TestIOUringSysctl(t *testing.T) {
	old := ioUringSysctl
	defer func() { ioUringSysctl = old }()
	ioUringSysctl = t.TempDir()
	cr := creds{euid: 1000, egid: 1000, groups: []int{50}, userName: "u"}
	if c, v := sysctlCheck(cr); c.Status != Pass || v != -1 {
		t.Errorf("missing sysctl: %+v %d", c, v)
	}
	write := func(disabled, group string) {
		os.WriteFile(filepath.Join(ioUringSysctl, "io_uring_disabled"), []byte(disabled), 0o644)
		os.WriteFile(filepath.Join(ioUringSysctl, "io_uring_group"), []byte(group), 0o644)
	}
	for _, c := range []struct {
		disabled, group string
		want            Status
	}{{"0\n", "-1\n", Pass}, {"1\n", "50\n", Pass}, {"1\n", "-1\n", Fail}, {"2\n", "-1\n", Fail}, {"7\n", "-1\n", Warn}, {"x\n", "-1\n", Warn}} {
		write(c.disabled, c.group)
		got, _ := sysctlCheck(cr)
		if got.Status != c.want || (got.Status != Pass && got.Fix == "") {
			t.Errorf("io_uring_disabled=%q group=%q: %+v; want %s", c.disabled, c.group, got, c.want)
		}
	}
	if c := setupFailure(unix.EPERM, 0); !strings.Contains(c.Detail, "seccomp") {
		t.Errorf("EPERM with sysctl 0 does not blame seccomp: %+v", c)
	}
	if c := setupFailure(unix.EPERM, 2); strings.Contains(c.Detail, "seccomp") {
		t.Errorf("EPERM with sysctl 2 blames seccomp: %+v", c)
	}
}

func TestMemlock(t *testing.T) {
	for rel, want := range map[string][2]int{"6.18.44-fc-v769": {6, 18}, "5.12.0": {5, 12}, "4.19rc1": {4, 19}, "5.4-rc2": {5, 4}, "x": {0, 0}} {
		if a, b := parseRelease(rel); a != want[0] || b != want[1] {
			t.Errorf("parseRelease(%q) = %d.%d", rel, a, b)
		}
	}
	if formatBytes(4<<20) != "4 MiB" || formatBytes(100) != "100 bytes" || formatLimit(unix.RLIM_INFINITY) != "unlimited" {
		t.Errorf("formatting")
	}
	var saved unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_MEMLOCK, &saved); err != nil {
		t.Fatal(err)
	}
	defer unix.Setrlimit(unix.RLIMIT_MEMLOCK, &saved)
	if err := unix.Setrlimit(unix.RLIMIT_MEMLOCK, &unix.Rlimit{Cur: 64 << 10, Max: saved.Max}); err != nil {
		t.Fatalf("lowering RLIMIT_MEMLOCK: %v", err)
	}
	h := &host{opts: Options{Queues: 4}} // capOK false: no CAP_IPC_LOCK exemption
	c := checkMemlock(h)[0]
	if c.Status != Warn || !strings.Contains(c.Detail, "64 KiB is below 4 MiB") || !strings.Contains(c.Fix, "ulimit -l 4096") {
		t.Fatalf("checkMemlock with 64 KiB = %+v", c)
	}
	h.capEff, h.capOK = 1<<capIPCLock, true
	if c := checkMemlock(h)[0]; c.Status != Pass || !strings.Contains(c.Detail, "CAP_IPC_LOCK") {
		t.Fatalf("checkMemlock with CAP_IPC_LOCK = %+v", c)
	}
}
