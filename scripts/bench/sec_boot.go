package main

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// bootSection: from process start to the first KVM_RUN, to the guest's
// first serial byte, to its exit write and to the process's end, for a guest
// that prints one line and writes the exit port at once (test=none). The
// exit write is timed by the last serial byte, which the guest sends one
// exit (about 10 µs here) before it.
func bootSection() *section {
	return &section{
		name: "boot", cols: tinyColumns, limit: floorLimit, prepare: tinyPrepare,
		rows: []row{
			{id: "firstrun", label: "start → first KVM_RUN (ms)", short: "start to KVM_RUN", unit: "ms", goals: []goal{atMost(colVMM, 5)}},
			{id: "firstbyte", label: "start → first serial byte (ms)", short: "start to serial", unit: "ms"},
			{id: "exitwrite", label: "start → guest's exit write (ms)", short: "start to exit write", unit: "ms",
				goals: []goal{atMost(colQEMU, 0.2), atMost(colLimit, 1.5)}},
			{id: "exit", label: "start → process gone (ms)", short: "start to process gone", unit: "ms"},
		},
		measure: func(b *bench, c column) (sample, error) {
			p, err := b.runTiny(c, "test=none", "tiny: none", guestOpts{}, time.Minute)
			if err != nil {
				return sample{}, err
			}
			v := map[string]float64{"firstbyte": ms(p.firstByte.Sub(p.start)), "exitwrite": ms(p.lastByte.Sub(p.start)),
				"exit": ms(p.end.Sub(p.start))}
			// A second run that logs the first KVM_RUN: logging must not slow the first.
			p, err = b.runTiny(c, "test=none", "tiny: none", guestOpts{trace: true}, time.Minute)
			if err != nil {
				return sample{}, err
			}
			at, err := firstRunTime(c, p.stderr.String())
			if err != nil {
				return sample{}, fmt.Errorf("%v%s", err, p.tail())
			}
			v["firstrun"] = ms(at.Sub(p.start))
			return sample{values: v}, nil
		},
	}
}

var (
	// vmm --log-level debug: time="2026-12-02T05:16:30.418027606Z" level=debug msg="entering the guest (first KVM_RUN)"
	vmmFirstRun = regexp.MustCompile(`time="([^"]+)" level=debug msg="entering the guest \(first KVM_RUN\)"`)
	// QEMU -msg timestamp=on -trace kvm_vcpu_ioctl: 19718@1796188262.762756:kvm_vcpu_ioctl cpu_index 0, type 0xae80, arg (nil)
	qemuFirstRun = regexp.MustCompile(`(?m)^[0-9]+@([0-9]+)\.([0-9]+):kvm_vcpu_ioctl cpu_index [0-9]+, type 0xae80\b`)
	// floor: first KVM_RUN at 1796188481.865079453
	floorFirstRun = regexp.MustCompile(`floor: first KVM_RUN at ([0-9]+)\.([0-9]{9})`)
)

// firstRunTime finds, in a traced run's stderr, the wall-clock time of the
// first KVM_RUN.
func firstRunTime(c column, stderr string) (time.Time, error) {
	switch c {
	case colVMM:
		if m := vmmFirstRun.FindStringSubmatch(stderr); m != nil {
			return time.Parse(time.RFC3339Nano, m[1])
		}
	case colQEMU:
		if m := qemuFirstRun.FindStringSubmatch(stderr); m != nil {
			return unixTime(m[1], m[2])
		}
	default:
		if m := floorFirstRun.FindStringSubmatch(stderr); m != nil {
			return unixTime(m[1], m[2])
		}
	}
	return time.Time{}, fmt.Errorf("no first-KVM_RUN record in stderr")
}

// unixTime parses seconds and a decimal fraction ("123", "4567" = 123.4567 s).
func unixTime(sec, frac string) (time.Time, error) {
	s, err := strconv.ParseInt(sec, 10, 64)
	if err != nil {
		return time.Time{}, err
	}
	if len(frac) > 9 {
		frac = frac[:9]
	}
	ns, err := strconv.ParseInt(frac+strings.Repeat("0", 9-len(frac)), 10, 64)
	if err != nil {
		return time.Time{}, err
	}
	return time.Unix(s, ns), nil
}
