//go:build linux

package hostcheck

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"golang.org/x/sys/unix"

	"vmm/vmm/sandbox"
)

// seccompSysctl holds actions_avail; a variable so tests can use a fake.
var seccompSysctl = "/proc/sys/kernel/seccomp"

// seccompActionsNeeded are the filter actions vmm run's --seccomp modes use.
var seccompActionsNeeded = []struct{ name, use string }{
	{"kill_process", "--seccomp=kill"},
	{"log", "--seccomp=log"},
}

// checkSandbox reports the kernel features vmm run confines itself with:
// a seccomp filter, no_new_privs and Landlock. Missing ones warn: the VM
// runs, but a guest that took over the VMM would have more to work with.
func checkSandbox(*host) []Check {
	actions, aerr := os.ReadFile(seccompSysctl + "/actions_avail")
	mode, merr := unix.PrctlRetInt(unix.PR_GET_SECCOMP, 0, 0, 0, 0)
	nnp, nerr := unix.PrctlRetInt(unix.PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0)
	abi, lerr := sandbox.LandlockVersion()
	return []Check{
		seccompCheck(strings.TrimSpace(string(actions)), aerr, mode, merr),
		noNewPrivsCheck(nnp, nerr),
		landlockCheck(abi, lerr),
	}
}

func seccompCheck(actions string, actionsErr error, mode int, modeErr error) Check {
	c := Check{Name: "seccomp", Status: Warn}
	const gain = "vmm run cannot install its system call filter: a guest that took over the VMM could make any system call"
	switch {
	case errors.Is(modeErr, unix.EINVAL):
		c.Detail = "the kernel has no seccomp (prctl(PR_GET_SECCOMP): EINVAL): " + gain
		c.Fix = "use a kernel built with CONFIG_SECCOMP_FILTER=y (distribution kernels are)"
		return c
	case modeErr != nil:
		c.Detail = "prctl(PR_GET_SECCOMP): " + modeErr.Error()
		c.Fix = "cannot tell whether vmm run can install its system call filter"
		return c
	case actionsErr != nil:
		c.Detail = "no " + seccompSysctl + "/actions_avail (a kernel before 4.14): no SECCOMP_RET_KILL_PROCESS or LOG, " + gain
		c.Fix = "use Linux 4.14 or newer"
		return c
	}
	have := " " + actions + " "
	var missing []string
	for _, a := range seccompActionsNeeded {
		if !strings.Contains(have, " "+a.name+" ") {
			missing = append(missing, a.name+" (for "+a.use+")")
		}
	}
	if len(missing) > 0 {
		c.Detail = fmt.Sprintf("filter actions %q lack %s", actions, strings.Join(missing, ", "))
		c.Fix = "use a kernel whose seccomp offers them (Linux 4.14+), or run with another --seccomp mode"
		return c
	}
	c.Status = Pass
	c.Detail = "filters available (actions: " + actions + "): vmm run lets the VMM make only the system calls it needs"
	if mode == unix.SECCOMP_MODE_FILTER {
		c.Detail += "; this process already runs under a filter (a container runtime's or systemd's), which vmm's is added to"
	}
	return c
}

func noNewPrivsCheck(v int, err error) Check {
	c := Check{Name: "no_new_privs"}
	if err != nil {
		c.Status, c.Detail = Warn, "prctl(PR_GET_NO_NEW_PRIVS): "+err.Error()+": a kernel before 3.5, where a program the VMM executed could gain privileges"
		c.Fix = "use Linux 3.5 or newer"
		return c
	}
	c.Status = Pass
	c.Detail = "available: vmm run sets it, so no program it could execute gains privileges through setuid bits or file capabilities"
	if v == 1 {
		c.Detail += "; already set by what started vmm"
	}
	return c
}

// landlockFeatures are what each ABI adds to vmm's confinement, and the
// first Linux release with it.
var landlockFeatures = []struct {
	abi          int
	what, kernel string
}{
	{1, "files (only those it was given)", "5.13"},
	{4, "TCP (no bind or connect)", "6.7"},
	{6, "abstract unix sockets and signals (none reaching outside the VMM)", "6.12"},
}

func landlockCheck(abi int, err error) Check {
	c := Check{Name: "landlock", Status: Warn}
	const without = "vmm run cannot confine the VMM to the files it was given"
	switch {
	case errors.Is(err, unix.ENOSYS):
		c.Detail = "the kernel was built without Landlock: " + without
		c.Fix = "use a kernel built with CONFIG_SECURITY_LANDLOCK=y (Linux 5.13+)"
		return c
	case errors.Is(err, unix.EOPNOTSUPP):
		c.Detail = "Landlock is built in but not enabled at boot: " + without
		c.Fix = "add landlock to the lsm= kernel parameter (keep the others listed in /sys/kernel/security/lsm, e.g. lsm=landlock,lockdown,yama,integrity,apparmor) and reboot"
		return c
	case err != nil:
		c.Detail = "landlock_create_ruleset(LANDLOCK_CREATE_RULESET_VERSION): " + err.Error() + ": " + without
		c.Fix = "cannot tell why; vmm run goes on without Landlock"
		return c
	}
	var has, lacks []string
	for _, f := range landlockFeatures {
		if abi >= f.abi {
			has = append(has, f.what)
		} else {
			lacks = append(lacks, fmt.Sprintf("%s (ABI %d, Linux %s)", f.what, f.abi, f.kernel))
		}
	}
	c.Detail = fmt.Sprintf("ABI %d: vmm run restricts the VMM's %s", abi, strings.Join(has, ", "))
	if len(lacks) > 0 {
		c.Detail += "; not " + strings.Join(lacks, ", ")
		c.Fix = "a newer kernel confines more (Linux " + landlockFeatures[len(landlockFeatures)-1].kernel + " or newer for all)"
		return c
	}
	c.Status = Pass
	return c
}
