//go:build linux

package hostcheck

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"vmm/iouring"
)

// neededOps are the io_uring opcodes the virtio block device submits.
var neededOps = []struct {
	op  uint8
	use string
}{
	{iouring.OpReadv, "guest reads"},
	{iouring.OpWritev, "guest writes"},
	{iouring.OpReadFixed, "reads into registered buffers"},
	{iouring.OpWriteFixed, "writes from registered buffers"},
	{iouring.OpFsync, "guest flushes"},
	{iouring.OpRead, "queue kicks (eventfd reads)"},
}

// ioUringSysctl is the directory holding io_uring_disabled/io_uring_group;
// a variable so tests can use a fake one.
var ioUringSysctl = "/proc/sys/kernel"

// checkIOUring checks the sysctl gate, a real ring setup, the opcodes the
// block device needs, and a real READ of an eventfd through the ring.
func checkIOUring(h *host) []Check {
	sysc, disabled := sysctlCheck(h.creds)
	out := []Check{sysc}
	ring, err := iouring.Setup(4, nil)
	if err != nil {
		out = append(out, setupFailure(err, disabled))
		out = append(out, Check{Name: "io_uring-opcodes", Status: Fail, Detail: "not run: no ring (see io_uring-setup)", Fix: "fix io_uring-setup first"},
			Check{Name: "io_uring-eventfd-read", Status: Fail, Detail: "not run: no ring (see io_uring-setup)", Fix: "fix io_uring-setup first"})
		return out
	}
	defer ring.Close()
	out = append(out, Check{Name: "io_uring-setup", Status: Pass,
		Detail: fmt.Sprintf("io_uring_setup works (features %#x)", ring.Features())})
	out = append(out, opcodesCheck(ring), eventfdReadCheck(ring))
	return out
}

// sysctlCheck reads io_uring_disabled (Linux 6.6+): 0 everyone, 1 only
// io_uring_group members (and CAP_SYS_ADMIN), 2 nobody. It returns the
// value, or -1 when the sysctl does not exist.
func sysctlCheck(cr creds) (Check, int) {
	c := Check{Name: "io_uring-sysctl"}
	v, err := readIntFile(ioUringSysctl + "/io_uring_disabled")
	if errors.Is(err, os.ErrNotExist) {
		c.Status, c.Detail = Pass, "no io_uring_disabled sysctl (kernel before 6.6): io_uring is not restricted by sysctl"
		return c, -1
	}
	if err != nil {
		c.Status, c.Detail = Warn, "cannot read io_uring_disabled: "+err.Error()
		c.Fix = "the io_uring-setup check below is authoritative"
		return c, -1
	}
	group, gerr := readIntFile(ioUringSysctl + "/io_uring_group")
	switch v {
	case 0:
		c.Status, c.Detail = Pass, "kernel.io_uring_disabled = 0: io_uring allowed for everyone"
	case 1:
		if gerr == nil && group >= 0 && cr.inGroup(group) {
			c.Status = Pass
			c.Detail = fmt.Sprintf("kernel.io_uring_disabled = 1, and %s is in io_uring_group %s", cr.userName, groupName(group))
			break
		}
		c.Status = Fail
		c.Detail = fmt.Sprintf("kernel.io_uring_disabled = 1: io_uring only for members of kernel.io_uring_group (%d) and CAP_SYS_ADMIN; %s is not a member", group, cr.userName)
		c.Fix = "`sysctl -w kernel.io_uring_disabled=0`, or set kernel.io_uring_group to a group of this user (`sysctl -w kernel.io_uring_group=<gid>`)"
	case 2:
		c.Status, c.Detail = Fail, "kernel.io_uring_disabled = 2: io_uring is disabled for every process"
		c.Fix = "`sysctl -w kernel.io_uring_disabled=0` (persist it in /etc/sysctl.d/)"
	default:
		c.Status, c.Detail = Warn, fmt.Sprintf("kernel.io_uring_disabled = %d, a value this check does not know", v)
		c.Fix = "the io_uring-setup check below is authoritative"
	}
	return c, v
}

// setupFailure explains a failed io_uring_setup.
func setupFailure(err error, disabled int) Check {
	c := Check{Name: "io_uring-setup", Status: Fail, Detail: err.Error()}
	switch {
	case errors.Is(err, unix.EPERM) && disabled <= 0:
		c.Detail = "io_uring_setup: operation not permitted although io_uring_disabled is 0: a seccomp filter blocks io_uring (container runtimes such as Docker and containerd do by default)"
		c.Fix = "run with a seccomp profile that allows io_uring_setup/io_uring_enter/io_uring_register (e.g. `docker run --security-opt seccomp=<profile>`)"
	case errors.Is(err, unix.EPERM):
		c.Detail = "io_uring_setup: operation not permitted (io_uring_disabled forbids it)"
		c.Fix = "see io_uring-sysctl"
	case errors.Is(err, unix.ENOSYS):
		c.Fix = "the kernel was built without io_uring (CONFIG_IO_URING=n); use a kernel with it"
	case errors.Is(err, unix.ENOMEM):
		c.Fix = "raise RLIMIT_MEMLOCK (kernels before 5.12 charge ring memory to it)"
	default:
		c.Fix = "io_uring is required for virtio block I/O; see the error"
	}
	return c
}

// opcodesCheck probes the opcodes the block device submits.
func opcodesCheck(ring *iouring.Ring) Check {
	c := Check{Name: "io_uring-opcodes"}
	p, err := ring.RegisterProbe()
	if err != nil {
		c.Status, c.Detail = Fail, err.Error()
		c.Fix = "IORING_REGISTER_PROBE needs Linux 5.6 or newer"
		return c
	}
	var have, missing []string
	for _, n := range neededOps {
		name := iouring.OpName(n.op)
		if p.Supported(n.op) {
			have = append(have, name)
		} else {
			missing = append(missing, name+" ("+n.use+")")
		}
	}
	if len(missing) > 0 {
		c.Status = Fail
		c.Detail = "missing opcodes: " + strings.Join(missing, ", ")
		c.Fix = "use a newer kernel (5.6 or later supports every opcode vmm needs)"
		return c
	}
	c.Status, c.Detail = Pass, "supported: "+strings.Join(have, ", ")
	return c
}

// eventfdReadCheck reads an eventfd through the ring, the way a queue
// worker waits for kicks, and checks the value arrives.
func eventfdReadCheck(ring *iouring.Ring) Check {
	c := Check{Name: "io_uring-eventfd-read", Status: Fail, Fix: "queue kicks cannot be read through io_uring on this kernel; use a newer kernel"}
	efd, err := unix.Eventfd(0, unix.EFD_CLOEXEC)
	if err != nil {
		c.Detail = "eventfd: " + err.Error()
		return c
	}
	defer unix.Close(efd)
	var in [8]byte
	binary.LittleEndian.PutUint64(in[:], 5)
	if _, err := unix.Write(efd, in[:]); err != nil {
		c.Detail = "eventfd write: " + err.Error()
		return c
	}
	var buf [8]byte
	sqe := ring.GetSQE()
	if sqe == nil {
		c.Detail = "no free SQE in a fresh ring"
		return c
	}
	sqe.PrepRead(int32(efd), buf[:], 0)
	sqe.SetUserData(42)
	if _, err := ring.Submit(); err != nil {
		c.Detail = "submit: " + err.Error()
		return c
	}
	cqe, err := ring.WaitCQE()
	if err != nil {
		c.Detail = "wait: " + err.Error()
		return c
	}
	res, ud := cqe.Res, cqe.UserData
	ring.CQESeen(cqe)
	got := binary.LittleEndian.Uint64(buf[:])
	if res != 8 || ud != 42 || got != 5 {
		c.Detail = fmt.Sprintf("READ of an eventfd returned res %d user_data %d value %d; want 8, 42, 5", res, ud, got)
		return c
	}
	c.Status, c.Detail, c.Fix = Pass, "READ of an eventfd through the ring returned its count", ""
	return c
}

func readIntFile(path string) (int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return 0, fmt.Errorf("%s: %q is not a number", path, strings.TrimSpace(string(b)))
	}
	return n, nil
}
