package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"
)

// trimDelay is how long the guest runs before vmm gives back the memory
// that only starting it needed.
const trimDelay = 500 * time.Millisecond

// trimAfterBoot waits trimDelay (or until stopped closes) and then trims.
func trimAfterBoot(stopped <-chan struct{}) {
	t := time.NewTimer(trimDelay)
	defer t.Stop()
	select {
	case <-stopped:
	case <-t.C:
		trim()
	}
}

// trim drops this process's mappings of the read-only pages of its own
// executable (MADV_DONTNEED), most of which only start-up touched: cobra,
// the loaders, the boot structures, and whatever the kernel mapped around
// them (a fault maps up to 16 neighbouring pages). The page cache keeps
// the file; a page the running VM touches again costs one minor fault and
// stays. No garbage collection: with a heap this small it touches more
// (mark bits, type data) than it gives back.
func trim() {
	n, err := dropExecutablePages()
	if err != nil {
		logrus.WithError(err).Debug("could not drop the executable's pages")
		return
	}
	logrus.WithField("bytes", n).Debug("trimmed memory used only at start-up")
}

// dropExecutablePages calls MADV_DONTNEED on every read-only mapping of
// /proc/self/exe and returns how many bytes they span. Writable mappings
// (.data, .bss) are left alone: dropping a private page that was written
// would lose the write.
func dropExecutablePages() (uint64, error) {
	var st unix.Stat_t
	if err := unix.Stat("/proc/self/exe", &st); err != nil {
		return 0, err
	}
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	dev := fmt.Sprintf("%02x:%02x", unix.Major(st.Dev), unix.Minor(st.Dev))
	ranges, err := readOnlyMappings(f, dev, st.Ino)
	if err != nil {
		return 0, err
	}
	var total uint64
	for _, r := range ranges {
		if _, _, e := unix.Syscall(unix.SYS_MADVISE, uintptr(r[0]), uintptr(r[1]-r[0]), unix.MADV_DONTNEED); e != 0 {
			return total, fmt.Errorf("madvise %#x-%#x: %w", r[0], r[1], e)
		}
		total += r[1] - r[0]
	}
	return total, nil
}

// readOnlyMappings returns the [start, end) of each mapping in a
// /proc/PID/maps listing that maps the file dev ("fe:00") and ino and is
// not writable.
func readOnlyMappings(maps io.Reader, dev string, ino uint64) ([][2]uint64, error) {
	var out [][2]uint64
	sc := bufio.NewScanner(maps)
	for sc.Scan() {
		// 00400000-00561000 r-xp 00000000 fe:00 9981159   /path/to/vmm
		f := strings.Fields(sc.Text())
		if len(f) < 6 || f[3] != dev || f[4] != strconv.FormatUint(ino, 10) || strings.Contains(f[1], "w") {
			continue
		}
		lo, hi, ok := strings.Cut(f[0], "-")
		if !ok {
			continue
		}
		start, err1 := strconv.ParseUint(lo, 16, 64)
		end, err2 := strconv.ParseUint(hi, 16, 64)
		if err1 != nil || err2 != nil || end <= start {
			return nil, fmt.Errorf("unreadable mapping %q", sc.Text())
		}
		out = append(out, [2]uint64{start, end})
	}
	return out, sc.Err()
}
