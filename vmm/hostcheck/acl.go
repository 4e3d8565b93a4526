//go:build linux

package hostcheck

import (
	"encoding/binary"
	"fmt"
	"os/user"
	"sort"
	"strconv"
	"strings"
)

// POSIX ACLs as the kernel stores them in the system.posix_acl_access xattr
// (include/uapi/linux/posix_acl_xattr.h): a little-endian u32 version (2),
// then 8-byte entries {u16 tag, u16 perm, u32 id}. Decoding it ourselves
// avoids depending on getfacl being installed.
const (
	aclXattr   = "system.posix_acl_access"
	aclVersion = 2

	aclUserObj  = 0x01
	aclUser     = 0x02
	aclGroupObj = 0x04
	aclGroup    = 0x08
	aclMask     = 0x10
	aclOther    = 0x20

	permRead  = 4
	permWrite = 2
	permExec  = 1

	aclUndefinedID = 0xffffffff
)

// ACLEntry is one ACL entry.
type ACLEntry struct {
	Tag  uint16
	Perm uint16
	ID   uint32 // uid or gid for aclUser/aclGroup entries
}

// ACL is a decoded access ACL.
type ACL []ACLEntry

// ParseACL decodes a system.posix_acl_access value. A malformed value is an
// error naming what is wrong, never a panic.
func ParseACL(b []byte) (ACL, error) {
	if len(b) < 4 {
		return nil, fmt.Errorf("ACL xattr is %d bytes, shorter than its 4-byte header", len(b))
	}
	if v := binary.LittleEndian.Uint32(b); v != aclVersion {
		return nil, fmt.Errorf("ACL xattr version %d, want %d", v, aclVersion)
	}
	b = b[4:]
	if len(b)%8 != 0 {
		return nil, fmt.Errorf("ACL xattr body is %d bytes, not a whole number of 8-byte entries", len(b))
	}
	acl := make(ACL, 0, len(b)/8)
	for ; len(b) > 0; b = b[8:] {
		e := ACLEntry{Tag: binary.LittleEndian.Uint16(b), Perm: binary.LittleEndian.Uint16(b[2:]), ID: binary.LittleEndian.Uint32(b[4:])}
		switch e.Tag {
		case aclUserObj, aclUser, aclGroupObj, aclGroup, aclMask, aclOther:
		default:
			return nil, fmt.Errorf("ACL entry %d has unknown tag %#x", len(acl), e.Tag)
		}
		acl = append(acl, e)
	}
	return acl, nil
}

// Extended reports whether the ACL says more than the mode bits (named
// users or groups).
func (a ACL) Extended() bool {
	for _, e := range a {
		if e.Tag == aclUser || e.Tag == aclGroup || e.Tag == aclMask {
			return true
		}
	}
	return false
}

func (a ACL) find(tag uint16) (ACLEntry, bool) {
	for _, e := range a {
		if e.Tag == tag {
			return e, true
		}
	}
	return ACLEntry{}, false
}

// Allows runs the POSIX.1e access check (the kernel's posix_acl_permission)
// for want (permRead|permWrite...) by c, against a file owned by uid:gid.
// Capabilities such as CAP_DAC_OVERRIDE are the caller's business.
func (a ACL) Allows(c creds, uid, gid int, want uint16) bool {
	mask := uint16(7)
	if m, ok := a.find(aclMask); ok {
		mask = m.Perm
	}
	if c.euid == uid {
		e, _ := a.find(aclUserObj)
		return e.Perm&want == want
	}
	for _, e := range a {
		if e.Tag == aclUser && int64(e.ID) == int64(c.euid) {
			return e.Perm&mask&want == want
		}
	}
	groupMatched := false
	for _, e := range a {
		var member bool
		switch e.Tag {
		case aclGroupObj:
			member = c.inGroup(gid)
		case aclGroup:
			member = e.ID != aclUndefinedID && c.inGroup(int(e.ID))
		default:
			continue
		}
		if member {
			if e.Perm&mask&want == want {
				return true
			}
			groupMatched = true
		}
	}
	if groupMatched {
		return false
	}
	e, _ := a.find(aclOther)
	return e.Perm&want == want
}

// aclFromMode is the minimal ACL equivalent to permission bits, so files
// without an ACL xattr go through the same algorithm.
func aclFromMode(mode uint32) ACL {
	return ACL{
		{Tag: aclUserObj, Perm: uint16(mode>>6) & 7},
		{Tag: aclGroupObj, Perm: uint16(mode>>3) & 7},
		{Tag: aclOther, Perm: uint16(mode) & 7},
	}
}

// String renders the ACL like getfacl's short form, names resolved.
func (a ACL) String() string {
	parts := make([]string, 0, len(a))
	sorted := append(ACL(nil), a...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].Tag < sorted[j].Tag })
	for _, e := range sorted {
		var who string
		switch e.Tag {
		case aclUserObj:
			who = "user::"
		case aclUser:
			who = "user:" + userName(int(e.ID)) + ":"
		case aclGroupObj:
			who = "group::"
		case aclGroup:
			who = "group:" + groupName(int(e.ID)) + ":"
		case aclMask:
			who = "mask::"
		case aclOther:
			who = "other::"
		}
		parts = append(parts, who+permString(e.Perm))
	}
	return strings.Join(parts, ",")
}

func permString(p uint16) string {
	b := []byte("---")
	if p&permRead != 0 {
		b[0] = 'r'
	}
	if p&permWrite != 0 {
		b[1] = 'w'
	}
	if p&permExec != 0 {
		b[2] = 'x'
	}
	return string(b)
}

// userName names uid from /etc/passwd, falling back to the number.
func userName(uid int) string {
	s := strconv.Itoa(uid)
	if u, err := user.LookupId(s); err == nil {
		return u.Username
	}
	return s
}
