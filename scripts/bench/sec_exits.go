package main

import (
	"fmt"
	"regexp"
	"strconv"
	"time"
)

// exitsSection: the cost of one VM exit and return, measured by the guest
// (test=latency) with the TSC over 20,000 exits to an unclaimed port and as
// many to an unclaimed MMIO address.
func exitsSection() *section {
	return &section{
		name: "exits", cols: tinyColumns, limit: floorLimit, prepare: tinyPrepare,
		rows: []row{
			{id: "pio", label: "exit round trip, port I/O (ns)", short: "exit PIO", unit: "ns", goals: []goal{atMost(colLimit, 1.10)}},
			{id: "mmio", label: "exit round trip, MMIO (ns)", short: "exit MMIO", unit: "ns", goals: []goal{atMost(colLimit, 1.10)}},
		},
		measure: func(b *bench, c column) (sample, error) {
			p, err := b.runTiny(c, "test=latency", "PASS latency", guestOpts{}, 2*time.Minute)
			if err != nil {
				return sample{}, err
			}
			v, err := parseLatency(p.stdout())
			if err != nil {
				return sample{}, fmt.Errorf("%v%s", err, p.tail())
			}
			return sample{values: v}, nil
		},
	}
}

var latencyLine = regexp.MustCompile(`(?m)^latency: (pio|mmio) ([0-9.]+) (ns|cycles) per exit`)

// parseLatency reads the latency case's two figures, in ns.
func parseLatency(out string) (map[string]float64, error) {
	v := map[string]float64{}
	for _, m := range latencyLine.FindAllStringSubmatch(out, -1) {
		if m[3] != "ns" {
			return nil, fmt.Errorf("the guest reported cycles, not ns: the VMM gave no TSC frequency (CPUID 0x40000010)")
		}
		f, err := strconv.ParseFloat(m[2], 64)
		if err != nil {
			return nil, err
		}
		v[m[1]] = f
	}
	if len(v) != 2 {
		return nil, fmt.Errorf("want a pio and an mmio latency line, found %d", len(v))
	}
	return v, nil
}
