//go:build linux

package hostcheck

import (
	"fmt"
	"os"
	"os/user"
	"strconv"
	"strings"
)

// creds is who this process is for permission checks: the effective ids
// and supplementary groups, which is what open(2) looks at.
type creds struct {
	euid, egid int
	groups     []int
	userName   string // from /etc/passwd, or the numeric uid
}

func currentCreds() creds {
	c := creds{euid: os.Geteuid(), egid: os.Getegid()}
	c.groups, _ = os.Getgroups()
	c.userName = userName(c.euid)
	return c
}

// inGroup reports whether gid is the effective or a supplementary group.
func (c creds) inGroup(gid int) bool {
	if gid == c.egid {
		return true
	}
	for _, g := range c.groups {
		if g == gid {
			return true
		}
	}
	return false
}

// groupName names gid from /etc/group, falling back to the number.
func groupName(gid int) string {
	if g, err := user.LookupGroupId(strconv.Itoa(gid)); err == nil {
		return g.Name
	}
	return strconv.Itoa(gid)
}

// checkIdentity reports who is asking. It never fails: it is the context
// the permission checks below are judged in.
func checkIdentity(h *host) []Check {
	h.creds = currentCreds()
	c := h.creds
	var gs []string
	for _, g := range c.groups {
		gs = append(gs, fmt.Sprintf("%d(%s)", g, groupName(g)))
	}
	groups := "none"
	if len(gs) > 0 {
		groups = strings.Join(gs, ",")
	}
	return []Check{{
		Name:   "identity",
		Status: Pass,
		Detail: fmt.Sprintf("euid %d (%s), egid %d (%s), supplementary groups: %s", c.euid, c.userName, c.egid, groupName(c.egid), groups),
	}}
}
