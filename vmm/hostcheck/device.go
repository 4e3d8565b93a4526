//go:build linux

package hostcheck

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"

	"vmm/kvm"
)

// deviceInfo is what stat and the ACL xattr say about the device node.
type deviceInfo struct {
	path     string
	uid, gid int
	mode     uint32 // permission bits
	acl      ACL    // the access ACL, or the one the mode bits imply
	aclNote  string // how the ACL was obtained
	extended bool   // the node has an ACL beyond its mode bits
}

// checkDevice checks the node (it exists and is KVM), who may open it, and
// that this process really can.
func checkDevice(h *host) []Check {
	path := h.opts.Device
	node := nodeCheck(path)
	if node.Status != Pass {
		notRun := "not attempted: " + path + " is not the KVM device (see the device check)"
		return []Check{node,
			{Name: "device-access", Status: Fail, Detail: notRun, Fix: "fix the device check first"},
			{Name: "device-open", Status: Fail, Detail: notRun, Fix: "fix the device check first"},
		}
	}
	info, err := readDeviceInfo(path)
	if err != nil {
		return []Check{node, {Name: "device-access", Status: Fail, Detail: err.Error(), Fix: "make " + path + " readable by stat (check the permissions of its directory)"},
			openCheck(h, path)}
	}
	h.dev = info
	return []Check{node, accessCheck(h, info), openCheck(h, path)}
}

// nodeCheck says whether path is the KVM character device, with a different
// message for each way it can be something else.
func nodeCheck(path string) Check {
	c := Check{Name: "device"}
	var st unix.Stat_t
	err := unix.Stat(path, &st)
	switch {
	case errors.Is(err, unix.ENOENT):
		c.Status, c.Detail = Fail, path+" does not exist"
		c.Fix = "load KVM: `modprobe kvm_intel` (Intel) or `modprobe kvm_amd` (AMD), with VT-x/AMD-V enabled in the firmware; inside a VM, enable nested virtualization on the outer host. If KVM lives elsewhere, pass --device PATH"
		return c
	case err != nil:
		c.Status, c.Detail = Fail, fmt.Sprintf("cannot stat %s: %v", path, err)
		c.Fix = "make the directories on the way to " + path + " searchable by this user"
		return c
	}
	fix := "point --device at the KVM device node, normally " + kvm.DefaultDevice
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFCHR:
	case unix.S_IFREG:
		c.Status, c.Detail, c.Fix = Fail, path+" is a regular file, not a device node", fix
		return c
	case unix.S_IFDIR:
		c.Status, c.Detail, c.Fix = Fail, path+" is a directory, not a device node", fix
		return c
	case unix.S_IFBLK:
		c.Status, c.Detail, c.Fix = Fail, fmt.Sprintf("%s is a block device (%d:%d), not the KVM character device", path, unix.Major(st.Rdev), unix.Minor(st.Rdev)), fix
		return c
	default:
		c.Status, c.Detail, c.Fix = Fail, fmt.Sprintf("%s is a %s, not a device node", path, fileKind(st.Mode)), fix
		return c
	}
	maj, min := unix.Major(st.Rdev), unix.Minor(st.Rdev)
	if maj != kvm.DeviceMajor || min != kvm.DeviceMinor {
		what := ""
		if maj == 1 && min == 3 {
			what = " (that is /dev/null)"
		}
		c.Status = Fail
		c.Detail = fmt.Sprintf("%s is character device %d:%d%s, not KVM (%d:%d)", path, maj, min, what, kvm.DeviceMajor, kvm.DeviceMinor)
		c.Fix = fix + "; recreate a broken node with `mknod /dev/kvm c 10 232`"
		return c
	}
	c.Status, c.Detail = Pass, fmt.Sprintf("%s is the KVM character device %d:%d", path, maj, min)
	return c
}

func fileKind(mode uint32) string {
	switch mode & unix.S_IFMT {
	case unix.S_IFIFO:
		return "named pipe"
	case unix.S_IFSOCK:
		return "socket"
	case unix.S_IFLNK:
		return "symbolic link"
	}
	return fmt.Sprintf("file of type %#o", mode&unix.S_IFMT)
}

// readDeviceInfo stats path and decodes its access ACL.
func readDeviceInfo(path string) (*deviceInfo, error) {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return nil, fmt.Errorf("cannot stat %s: %w", path, err)
	}
	info := &deviceInfo{path: path, uid: int(st.Uid), gid: int(st.Gid), mode: st.Mode & 0o7777}
	info.acl, info.aclNote = aclFromMode(info.mode), "no ACL"
	buf := make([]byte, 4+8*64)
	n, err := unix.Getxattr(path, aclXattr, buf)
	switch {
	case err == nil:
		acl, perr := ParseACL(buf[:n])
		if perr != nil {
			info.aclNote = "unreadable ACL (" + perr.Error() + "), using the mode bits"
			break
		}
		info.acl, info.extended = acl, acl.Extended()
		info.aclNote = "ACL " + acl.String()
	case errors.Is(err, unix.ENODATA), errors.Is(err, unix.EOPNOTSUPP):
	case errors.Is(err, unix.ERANGE):
		info.aclNote = "ACL too large to read, using the mode bits"
	default:
		info.aclNote = fmt.Sprintf("cannot read ACL (%v), using the mode bits", err)
	}
	return info, nil
}

// capDACOverride is CAP_DAC_OVERRIDE's bit number.
const capDACOverride = 1

// accessCheck judges, from owner, group, mode and ACL, whether this
// process may open the device read/write. It explains; openCheck proves.
func accessCheck(h *host, d *deviceInfo) Check {
	c := Check{Name: "device-access"}
	cr := h.creds
	member := "is not"
	if cr.inGroup(d.gid) {
		member = "is"
	}
	desc := fmt.Sprintf("owner %s, group %s, mode %04o, %s; %s %s in group %s",
		userName(d.uid), groupName(d.gid), d.mode, d.aclNote, cr.userName, member, groupName(d.gid))
	allowed := d.acl.Allows(cr, d.uid, d.gid, permRead|permWrite)
	switch {
	case allowed:
		c.Status, c.Detail = Pass, desc+": read/write granted by the permissions"
	case h.capOK && h.capEff&(1<<capDACOverride) != 0:
		c.Status, c.Detail = Pass, desc+": the permissions alone do not grant read/write, CAP_DAC_OVERRIDE does (typically running as root)"
	default:
		c.Status, c.Detail = Fail, desc+": "+cr.userName+" has no read/write access"
		c.Fix = permissionFix(d, cr)
	}
	return c
}

// permissionFix says how to give user access to the device: through its
// group when the group already has read/write, else through an ACL or a
// kvm group. Never "run as root".
func permissionFix(d *deviceInfo, cr creds) string {
	u := cr.userName
	acl := fmt.Sprintf("`setfacl -m u:%s:rw %s` (until the node is re-created at boot)", u, d.path)
	if d.gid != 0 && d.mode&0o060 == 0o060 {
		g := groupName(d.gid)
		return fmt.Sprintf("add %s to the device's group: `usermod -aG %s %s`, then log in again (or `newgrp %s`); or grant this user alone: %s", u, g, u, g, acl)
	}
	return fmt.Sprintf("grant this user alone: %s; or give the device a kvm group: `groupadd -r kvm; chgrp kvm %s; chmod 0660 %s; usermod -aG kvm %s`, "+
		"kept across reboots by the udev rule KERNEL==\"kvm\", GROUP=\"kvm\", MODE=\"0660\" in /etc/udev/rules.d/65-kvm.rules. KVM needs only read/write on the device, not root", acl, d.path, d.path, u)
}

// openCheck really opens the device read/write: the only proof, since
// device cgroups, LSMs and the driver itself can refuse what the mode
// bits allow. (access(2) would judge by the real, not the effective, uid.)
func openCheck(h *host, path string) Check {
	c := Check{Name: "device-open"}
	sys, err := kvm.Open(path)
	if err == nil {
		h.sys = sys
		c.Status, c.Detail = Pass, "opened "+path+" read/write"
		return c
	}
	c.Status = Fail
	c.Detail = fmt.Sprintf("open %s read/write: %v", path, errors.Unwrap(err))
	switch {
	case errors.Is(err, unix.EACCES):
		c.Detail = fmt.Sprintf("open %s read/write as %s: permission denied", path, h.creds.userName)
		if h.dev != nil {
			c.Fix = permissionFix(h.dev, h.creds)
		} else {
			c.Fix = fmt.Sprintf("`setfacl -m u:%s:rw %s`", h.creds.userName, path)
		}
	case errors.Is(err, unix.EPERM):
		c.Fix = "the permissions allow it but something else refuses: in a container, pass the device through (`docker run --device /dev/kvm`, or allow c 10:232 rw in the device cgroup); otherwise check the LSM (SELinux/AppArmor) logs"
	case errors.Is(err, unix.ENXIO), errors.Is(err, unix.ENODEV):
		c.Fix = "the node exists but no KVM driver answers: `modprobe kvm_intel` or `modprobe kvm_amd`, and enable VT-x/AMD-V in the firmware"
	default:
		c.Fix = "see the error; " + path + " must be the KVM device and openable read/write"
	}
	return c
}

// readCapEff reads the effective capability set from /proc/self/status.
func readCapEff() (uint64, bool) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, false
	}
	return parseCapEff(string(b))
}
