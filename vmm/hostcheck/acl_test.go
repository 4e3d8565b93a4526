//go:build linux

package hostcheck

import (
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// aclBytes encodes entries the way the kernel stores the xattr.
func aclBytes(entries ...ACLEntry) []byte {
	b := binary.LittleEndian.AppendUint32(nil, aclVersion)
	for _, e := range entries {
		b = binary.LittleEndian.AppendUint16(b, e.Tag)
		b = binary.LittleEndian.AppendUint16(b, e.Perm)
		b = binary.LittleEndian.AppendUint32(b, e.ID)
	}
	return b
}

// kvmACL is what `setfacl -m u:1000:rw,g:36:rw` on a root:root 0600 node gives.
var kvmACL = []ACLEntry{
	{aclUserObj, 6, aclUndefinedID},
	{aclUser, 6, 1000},
	{aclGroupObj, 0, aclUndefinedID},
	{aclGroup, 6, 36},
	{aclMask, 6, aclUndefinedID},
	{aclOther, 0, aclUndefinedID},
}

func TestParseACL(t *testing.T) {
	acl, err := ParseACL(aclBytes(kvmACL...))
	if err != nil {
		t.Fatalf("ParseACL: %v", err)
	}
	if len(acl) != 6 || !acl.Extended() || acl[1].ID != 1000 {
		t.Fatalf("ParseACL = %+v", acl)
	}
	if s := acl.String(); !strings.Contains(s, "user::rw-") || !strings.Contains(s, "mask::rw-") || !strings.Contains(s, "other::---") {
		t.Errorf("String() = %q", s)
	}
	for name, b := range map[string][]byte{
		"empty":       nil,
		"short":       {2, 0},
		"version 1":   {1, 0, 0, 0},
		"torn entry":  append(aclBytes(kvmACL[0]), 1, 2, 3),
		"unknown tag": aclBytes(ACLEntry{Tag: 0x40, Perm: 7}),
	} {
		if _, err := ParseACL(b); err == nil {
			t.Errorf("%s: ParseACL accepted %x", name, b)
		}
	}
}

func TestACLAllows(t *testing.T) {
	acl := ACL(kvmACL)
	rw := uint16(permRead | permWrite)
	for _, c := range []struct {
		name string
		cr   creds
		want bool
	}{
		{"owner", creds{euid: 0, egid: 0}, true},
		{"named user", creds{euid: 1000, egid: 1000}, true},
		{"named group via supplementary", creds{euid: 1001, egid: 1001, groups: []int{36}}, true},
		{"named group via egid", creds{euid: 1001, egid: 36}, true},
		{"owning group has no rights", creds{euid: 1001, egid: 0}, false},
		{"other", creds{euid: 65534, egid: 65534}, false},
	} {
		if got := acl.Allows(c.cr, 0, 0, rw); got != c.want {
			t.Errorf("%s: Allows = %v; want %v", c.name, got, c.want)
		}
	}
	// The mask limits named entries but not the owner.
	masked := append(ACL(nil), kvmACL...)
	masked[4].Perm = permRead
	if masked.Allows(creds{euid: 1000, egid: 1000}, 0, 0, rw) {
		t.Errorf("mask r-- still let the named user write")
	}
	if !masked.Allows(creds{euid: 0}, 0, 0, rw) {
		t.Errorf("mask restricted the owner")
	}
	// A matching group entry without the rights denies even if other allows.
	modeACL := aclFromMode(0o606)
	if modeACL.Allows(creds{euid: 5, egid: 7}, 0, 7, rw) {
		t.Errorf("group --- did not override other rw-")
	}
	if !modeACL.Allows(creds{euid: 5, egid: 8}, 0, 7, rw) {
		t.Errorf("other rw- not applied to a non-member")
	}
	if !aclFromMode(0o660).Allows(creds{euid: 5, egid: 5, groups: []int{78}}, 0, 78, rw) {
		t.Errorf("group rw- not applied to a supplementary member")
	}
}

// TestReadDeviceInfoRealXattr writes an ACL with setxattr and reads it back
// through the same path the device check uses.
func TestReadDeviceInfoRealXattr(t *testing.T) {
	p := filepath.Join(t.TempDir(), "node")
	if err := os.WriteFile(p, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	info, err := readDeviceInfo(p)
	if err != nil || info.extended || info.mode != 0o600 || info.aclNote != "no ACL" {
		t.Fatalf("plain file: %+v, %v", info, err)
	}
	err = unix.Setxattr(p, aclXattr, aclBytes(kvmACL...), 0)
	if errors.Is(err, unix.EOPNOTSUPP) {
		t.Skip("the temp directory's filesystem has no POSIX ACL support")
	}
	if err != nil {
		t.Fatalf("setxattr: %v", err)
	}
	info, err = readDeviceInfo(p)
	if err != nil {
		t.Fatal(err)
	}
	if !info.extended || !info.acl.Allows(creds{euid: 1000, egid: 1000}, info.uid, info.gid, permRead|permWrite) {
		t.Fatalf("ACL read back as %q (extended %v)", info.aclNote, info.extended)
	}
	if !strings.Contains(info.aclNote, "user:") || !strings.Contains(info.aclNote, "mask::rw-") {
		t.Errorf("aclNote = %q", info.aclNote)
	}
}

func FuzzParseACL(f *testing.F) {
	f.Add(aclBytes(kvmACL...))
	f.Add([]byte{2, 0, 0, 0})
	f.Add([]byte{2, 0, 0, 0, 1, 0, 6})
	f.Fuzz(func(t *testing.T, b []byte) {
		acl, err := ParseACL(b)
		if err != nil {
			return
		}
		if len(acl) != (len(b)-4)/8 {
			t.Fatalf("%d entries from %d bytes", len(acl), len(b))
		}
		_ = acl.String()
		acl.Allows(creds{euid: 1, egid: 1, groups: []int{2}}, 0, 0, permRead|permWrite)
	})
}
