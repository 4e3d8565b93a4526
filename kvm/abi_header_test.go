//go:build linux

package kvm

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"vmm/internal/testutil"
)

// runC compiles src against the host's kernel UAPI headers with gcc (which
// the tiny test kernel's build needs anyway) and returns what it prints.
func runC(t *testing.T, src string) string {
	t.Helper()
	gcc, err := exec.LookPath("gcc")
	if err != nil {
		testutil.Missing(t, "gcc is needed to compile against <linux/kvm.h>: %v", err)
	}
	dir := t.TempDir()
	c, bin := filepath.Join(dir, "prog.c"), filepath.Join(dir, "prog")
	if err := os.WriteFile(c, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(gcc, "-Wall", "-o", bin, c).CombinedOutput(); err != nil {
		t.Fatalf("gcc: %v\n%s", err, out)
	}
	out, err := exec.Command(bin).Output()
	if err != nil {
		t.Fatalf("running the compiled program: %v", err)
	}
	return string(out)
}

// TestABITablesAreCurrent compiles and runs testdata/abi.c and checks that
// abi_unsafe_test.go holds exactly its rows: the C values there are what the
// kernel header says today, not numbers copied once and left to go stale.
func TestABITablesAreCurrent(t *testing.T) {
	src, err := os.ReadFile("testdata/abi.c")
	if err != nil {
		t.Fatal(err)
	}
	table, err := os.ReadFile("abi_unsafe_test.go")
	if err != nil {
		t.Fatal(err)
	}
	rows := 0
	for _, line := range strings.Split(runC(t, string(src)), "\n") {
		if !strings.HasPrefix(line, "\t{") {
			continue
		}
		rows++
		if !strings.Contains(string(table), "\n"+line+"\n") {
			t.Errorf("abi_unsafe_test.go lacks this row that abi.c prints:\n%s", line)
		}
	}
	if want := len(abiLayout) + len(abiIoctls); rows != want {
		t.Errorf("abi.c prints %d rows, abi_unsafe_test.go has %d: regenerate the tables", rows, want)
	}
}

// capNamePattern is how <linux/kvm.h> spells a capability after KVM_CAP_.
var capNamePattern = regexp.MustCompile(`^[A-Z][A-Z0-9_]*$`)

// TestCapNamesMatchKernelHeader compiles a program that prints
// KVM_CAP_<name> for every name in capNames: a misspelt name does not
// compile, a wrong number does not match.
func TestCapNamesMatchKernelHeader(t *testing.T) {
	caps := make([]Cap, 0, len(capNames))
	for c := range capNames {
		caps = append(caps, c)
	}
	slices.Sort(caps)
	var b strings.Builder
	b.WriteString("#include <stdio.h>\n#include <linux/kvm.h>\nint main(void) {\n")
	for _, c := range caps {
		if !capNamePattern.MatchString(capNames[c]) {
			t.Fatalf("cap %d is named %q: not a KVM_CAP_ name", c, capNames[c])
		}
		fmt.Fprintf(&b, "\tprintf(\"%%d\\n\", KVM_CAP_%s);\n", capNames[c])
	}
	b.WriteString("\treturn 0;\n}\n")
	got := strings.Fields(runC(t, b.String()))
	if len(got) != len(caps) {
		t.Fatalf("the program printed %d values for %d caps", len(got), len(caps))
	}
	for i, c := range caps {
		if n, err := strconv.Atoi(got[i]); err != nil || Cap(n) != c {
			t.Errorf("%s is %d in Go, KVM_CAP_%s is %s in <linux/kvm.h>", c, int(c), capNames[c], got[i])
		}
	}
}
