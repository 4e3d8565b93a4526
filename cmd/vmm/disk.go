package main

import (
	"fmt"
	"strings"

	"vmm/vmm"
)

// parseDisk parses one --disk value:
//
//	PATH[,ro][,direct][,id=NAME][,engine=uring|sync]
//
// PATH is everything before the first comma. A mistake is a usage error
// naming the field.
func parseDisk(spec string, index int) (vmm.DiskConfig, error) {
	fields := strings.Split(spec, ",")
	d := vmm.DiskConfig{Path: fields[0], ID: fmt.Sprintf("vmm-disk%d", index)}
	if d.Path == "" {
		return d, usagef("--disk %q: the path is empty: use --disk PATH[,ro][,direct][,id=NAME][,engine=uring|sync]", spec)
	}
	seen := map[string]bool{}
	for _, f := range fields[1:] {
		key, val, hasVal := strings.Cut(f, "=")
		if seen[key] {
			return d, usagef("--disk %q: %q is given twice", spec, key)
		}
		seen[key] = true
		switch {
		case key == "ro" && !hasVal:
			d.ReadOnly = true
		case key == "direct" && !hasVal:
			d.Direct = true
		case key == "id" && hasVal:
			if val == "" || len(val) > 20 {
				return d, usagef("--disk %q: id %q must be 1 to 20 bytes (the guest reads it with GET_ID)", spec, val)
			}
			for _, c := range []byte(val) {
				if c < 0x21 || c > 0x7e {
					return d, usagef("--disk %q: id %q must be printable ASCII without spaces", spec, val)
				}
			}
			d.ID = val
		case key == "engine" && hasVal:
			if val != "uring" && val != "sync" {
				return d, usagef("--disk %q: engine %q: use uring or sync", spec, val)
			}
			d.Engine = val
		case key == "ro" || key == "direct":
			return d, usagef("--disk %q: %q takes no value", spec, key)
		case key == "id" || key == "engine":
			return d, usagef("--disk %q: %q needs a value, e.g. %s=...", spec, key, key)
		default:
			return d, usagef("--disk %q: unknown field %q: use ro, direct, id=NAME or engine=uring|sync", spec, f)
		}
	}
	return d, nil
}

// parseDisks parses every --disk, checking the count and that ids differ.
func parseDisks(specs []string) ([]vmm.DiskConfig, error) {
	if len(specs) > vmm.MaxDisks {
		return nil, usagef("--disk given %d times: at most %d disks", len(specs), vmm.MaxDisks)
	}
	var out []vmm.DiskConfig
	ids := map[string]bool{}
	for i, s := range specs {
		d, err := parseDisk(s, i)
		if err != nil {
			return nil, err
		}
		if ids[d.ID] {
			return nil, usagef("--disk %q: id %q is already used by another disk", s, d.ID)
		}
		ids[d.ID] = true
		out = append(out, d)
	}
	return out, nil
}
