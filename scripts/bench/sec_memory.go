package main

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// memorySection: the VMM process's RSS while the guest idles (test=idle),
// minus the guest RAM it has touched, read from /proc/PID/smaps.
func memorySection() *section {
	return &section{
		name: "memory", cols: tinyColumns, limit: floorLimit, prepare: tinyPrepare,
		rows: []row{
			{id: "overhead", label: "VMM overhead: RSS − guest RAM touched, idle guest (MiB)", short: "memory overhead", unit: "MiB", goals: []goal{atMost(colVMM, 2)}},
			{id: "private", label: "VMM private memory: anonymous − guest RAM touched, idle guest (MiB)", short: "private memory", unit: "MiB"},
			{id: "rss", label: "whole process RSS, idle guest (MiB)", short: "process RSS", unit: "MiB"},
			{id: "guest", label: "guest RAM touched (MiB)", short: "guest RAM touched", unit: "MiB"},
		},
		measure: func(b *bench, c column) (sample, error) {
			unlock, err := b.lock(benchLock)
			if err != nil {
				return sample{}, err
			}
			defer unlock()
			p, err := b.startTiny(c, "test=idle", guestOpts{stdin: true})
			if err != nil {
				return sample{}, err
			}
			defer p.kill()
			if err := p.waitOutput("idle: halting", time.Minute); err != nil {
				return sample{}, err
			}
			// Let start-up work settle.
			time.Sleep(time.Second)
			m, err := readMemory(p.cmd.Process.Pid, uint64(b.memMiB)<<20)
			if err != nil {
				return sample{}, err
			}
			if _, err := p.stdin.Write([]byte("x")); err != nil {
				return sample{}, fmt.Errorf("write to the guest's serial input: %w", err)
			}
			if err := p.wait(time.Minute); err != nil {
				return sample{}, err
			}
			if err := checkPass(p, c, "PASS idle"); err != nil {
				return sample{}, err
			}
			const mib = 1 << 20
			return sample{values: map[string]float64{
				"overhead": float64(m.rss-m.guest) / mib, "private": float64(m.anon-m.guest) / mib,
				"rss": float64(m.rss) / mib, "guest": float64(m.guest) / mib,
			}}, nil
		},
	}
}

// memory is a process's RSS, its anonymous (private, not file-backed)
// resident memory, and the part of both that is guest RAM, in bytes. RSS
// counts the executable's pages too, which the page cache shares between
// every process running it; the anonymous figure is what one more VM costs.
type memory struct{ rss, anon, guest uint64 }

// readMemory reads pid's total Rss from smaps_rollup and the guest RAM
// mapping's Rss from smaps.
func readMemory(pid int, guestSize uint64) (memory, error) {
	dir := "/proc/" + strconv.Itoa(pid)
	roll, err := os.Open(dir + "/smaps_rollup")
	if err != nil {
		return memory{}, err
	}
	defer roll.Close()
	var m memory
	if m.rss, m.anon, err = rollupRss(roll); err != nil {
		return memory{}, fmt.Errorf("%s/smaps_rollup: %w", dir, err)
	}
	sm, err := os.Open(dir + "/smaps")
	if err != nil {
		return memory{}, err
	}
	defer sm.Close()
	if m.guest, err = guestRss(sm, guestSize); err != nil {
		return memory{}, fmt.Errorf("%s/smaps: %w", dir, err)
	}
	return m, nil
}

// rollupRss returns the "Rss:" and "Anonymous:" figures of smaps_rollup, in bytes.
func rollupRss(f *os.File) (rss, anon uint64, err error) {
	sc := bufio.NewScanner(f)
	var haveRss, haveAnon bool
	for sc.Scan() {
		if kb, ok := smapsField(sc.Text(), "Rss:"); ok {
			rss, haveRss = kb<<10, true
		} else if kb, ok := smapsField(sc.Text(), "Anonymous:"); ok {
			anon, haveAnon = kb<<10, true
		}
	}
	if err := sc.Err(); err != nil {
		return 0, 0, err
	}
	if !haveRss || !haveAnon {
		return 0, 0, fmt.Errorf("no Rss or Anonymous line")
	}
	return rss, anon, nil
}

// guestRss finds the guest RAM mapping in smaps: the anonymous mapping
// whose size is guestSize, or up to 2 MiB more (QEMU rounds its RAM block
// up for alignment). With several candidates it takes the one with the
// most resident pages.
func guestRss(f *os.File, guestSize uint64) (uint64, error) {
	sc := bufio.NewScanner(f)
	var (
		best, rss, size uint64
		found, anon     bool
	)
	consider := func() {
		if anon && size >= guestSize && size <= guestSize+2<<20 {
			found = true
			best = max(best, rss)
		}
	}
	for sc.Scan() {
		line := sc.Text()
		if isMappingHeader(line) {
			consider()
			f := strings.Fields(line)
			anon = len(f) == 5 || (len(f) == 6 && strings.HasPrefix(f[5], "[anon"))
			size, rss = 0, 0
			continue
		}
		if kb, ok := smapsField(line, "Size:"); ok {
			size = kb << 10
		} else if kb, ok := smapsField(line, "Rss:"); ok {
			rss = kb << 10
		}
	}
	consider()
	if err := sc.Err(); err != nil {
		return 0, err
	}
	if !found {
		return 0, fmt.Errorf("no anonymous mapping of %d MiB (the guest's RAM)", guestSize>>20)
	}
	return best, nil
}

// isMappingHeader tells a mapping line ("7f..-7f.. rw-p 00000000 00:00 0 [path]")
// from a field line ("Rss:  4 kB").
func isMappingHeader(line string) bool {
	addr, _, ok := strings.Cut(line, " ")
	if !ok {
		return false
	}
	lo, hi, ok := strings.Cut(addr, "-")
	if !ok || lo == "" || hi == "" {
		return false
	}
	for _, r := range lo + hi {
		if !strings.ContainsRune("0123456789abcdef", r) {
			return false
		}
	}
	return true
}

// smapsField parses "Name:   123 kB" and returns 123.
func smapsField(line, name string) (uint64, bool) {
	rest, ok := strings.CutPrefix(line, name)
	if !ok {
		return 0, false
	}
	f := strings.Fields(rest)
	if len(f) != 2 || f[1] != "kB" {
		return 0, false
	}
	n, err := strconv.ParseUint(f[0], 10, 64)
	return n, err == nil
}
