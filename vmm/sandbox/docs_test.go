package sandbox

import (
	"os"
	"strings"
	"testing"
)

// docs/security.md's seccomp section names every allowed system call and
// ioctl request, so the page cannot drift from the filter.
func TestSecurityDocNamesTheAllowList(t *testing.T) {
	b, err := os.ReadFile("../../docs/security.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(b), "\n### seccomp\n")
	if !ok {
		t.Fatal("docs/security.md has no \"### seccomp\" section")
	}
	if i := strings.Index(section, "\n## "); i >= 0 {
		section = section[:i]
	}
	for _, name := range AllowedSyscalls() {
		if !strings.Contains(section, "| `"+name+"` |") {
			t.Errorf("docs/security.md's seccomp table lacks a row for %s", name)
		}
	}
	for _, r := range ioctlRequests() {
		if !strings.Contains(section, "`"+r.Name+"`") {
			t.Errorf("docs/security.md's seccomp section does not name the ioctl request %s", r.Name)
		}
	}
}
