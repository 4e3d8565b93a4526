package main

import (
	"os"
	"strconv"
	"strings"
	"testing"
)

func TestReadOnlyMappings(t *testing.T) {
	maps := `00400000-00563000 r-xp 00000000 fe:00 9981159                            /work/bin/vmm
00563000-0072f000 r--p 00163000 fe:00 9981159                            /work/bin/vmm
0072f000-0074f000 rw-p 0032f000 fe:00 9981159                            /work/bin/vmm
0074f000-00785000 rw-p 00000000 00:00 0
7f00000000-7f00001000 r--p 00000000 fe:01 9981159                          /other/disk/same/inode
7f10000000-7f10001000 r--p 00000000 fe:00 1234                           /usr/lib/other
`
	got, err := readOnlyMappings(strings.NewReader(maps), "fe:00", 9981159)
	if err != nil {
		t.Fatal(err)
	}
	want := [][2]uint64{{0x400000, 0x563000}, {0x563000, 0x72f000}}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("readOnlyMappings = %x, want %x (the writable .data mapping, other files and other devices excluded)", got, want)
	}
	if _, err := readOnlyMappings(strings.NewReader("zz-00 r--p 0 fe:00 7 /x\n"), "fe:00", 7); err == nil {
		t.Error("a malformed address range was accepted")
	}
}

// TestDropExecutablePages drops this test binary's own read-only pages and
// keeps running: the code it runs next faults back in from the page cache.
func TestDropExecutablePages(t *testing.T) {
	before := fileRss(t)
	n, err := dropExecutablePages()
	if err != nil {
		t.Fatal(err)
	}
	after := fileRss(t)
	if n == 0 {
		t.Fatal("found no read-only mapping of /proc/self/exe")
	}
	if after >= before {
		t.Errorf("file-backed RSS %d kB before, %d kB after: nothing was dropped", before, after)
	}
}

// fileRss is Pss_File of this process in kB (what its mapped files cost).
func fileRss(t *testing.T) uint64 {
	t.Helper()
	b, err := os.ReadFile("/proc/self/smaps_rollup")
	if err != nil {
		t.Skipf("no smaps_rollup: %v", err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(l, "Pss_File:"); ok {
			n, err := strconv.ParseUint(strings.Fields(rest)[0], 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Skip("no Pss_File in smaps_rollup")
	return 0
}
