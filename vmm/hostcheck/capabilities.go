//go:build linux

package hostcheck

import (
	"fmt"
	"math/bits"
	"strconv"
	"strings"
)

// capNames are the Linux capability names by bit (include/uapi/linux/capability.h).
var capNames = []string{
	"chown", "dac_override", "dac_read_search", "fowner", "fsetid", "kill", "setgid", "setuid",
	"setpcap", "linux_immutable", "net_bind_service", "net_broadcast", "net_admin", "net_raw",
	"ipc_lock", "ipc_owner", "sys_module", "sys_rawio", "sys_chroot", "sys_ptrace", "sys_pacct",
	"sys_admin", "sys_boot", "sys_nice", "sys_resource", "sys_time", "sys_tty_config", "mknod",
	"lease", "audit_write", "audit_control", "setfcap", "mac_override", "mac_admin", "syslog",
	"wake_alarm", "block_suspend", "audit_read", "perfmon", "bpf", "checkpoint_restore",
}

// capIPCLock is CAP_IPC_LOCK's bit: it lifts RLIMIT_MEMLOCK for io_uring.
const capIPCLock = 14

// parseCapEff finds the CapEff line of /proc/self/status.
func parseCapEff(status string) (uint64, bool) {
	for _, line := range strings.Split(status, "\n") {
		if v, ok := strings.CutPrefix(line, "CapEff:"); ok {
			n, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			return n, err == nil
		}
	}
	return 0, false
}

// capList names the bits set in caps.
func capList(caps uint64) string {
	if caps == 0 {
		return "none"
	}
	var names []string
	for bit := 0; bit < 64; bit++ {
		if caps&(1<<bit) == 0 {
			continue
		}
		if bit < len(capNames) {
			names = append(names, "cap_"+capNames[bit])
		} else {
			names = append(names, fmt.Sprintf("cap_%d", bit))
		}
	}
	return strings.Join(names, ",")
}

// checkCapabilities lists the effective capabilities for information.
// It always passes: KVM needs read/write on /dev/kvm, no capability.
func checkCapabilities(h *host) []Check {
	c := Check{Name: "capabilities", Status: Pass}
	if !h.capOK {
		c.Detail = "could not read CapEff from /proc/self/status (for information only: KVM needs read/write access to the device, no capability)"
		return []Check{c}
	}
	all := uint64(1)<<len(capNames) - 1
	list := capList(h.capEff)
	if missing := all &^ h.capEff; bits.OnesCount64(missing) < len(capNames)/2 {
		list = fmt.Sprintf("%#x, all but %s", h.capEff, capList(missing))
		if missing == 0 {
			list = fmt.Sprintf("%#x, all", h.capEff)
		}
	}
	c.Detail = "effective: " + list + " (for information: running VMs needs read/write access to the KVM device, no capability)"
	return []Check{c}
}
