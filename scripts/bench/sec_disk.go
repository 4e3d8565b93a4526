package main

import (
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"time"

	"vmm/guest"
)

// diskSection: the tiny kernel's blk_perf case on the same raw image under
// vmm (--disk PATH,direct) and under QEMU microvm (virtio-blk-device on
// -drive aio=io_uring,cache=none), the guest timing each job with the TSC.
// On this host a guest runs about 4 million instructions a second under
// any VMM, so the guest's own CPU bounds these figures; the guest is the
// same under both, so the ratio is the device models' difference. No
// limit column: there is no VMM-less way to run this guest's driver.
func diskSection(d *diskOpts) *section {
	rows := []row{}
	for _, j := range perfJobs {
		rows = append(rows, row{id: j.id, label: j.label, short: j.short, unit: j.unit, goals: j.goals, higher: true})
	}
	for _, j := range perfJobs {
		if j.exits {
			rows = append(rows, row{id: j.id + "_exits", label: fmt.Sprintf("%s: exits per request", j.name),
				short: j.short + " exits/req", unit: "exits", goals: j.exitGoals})
		}
	}
	for _, j := range perfJobs {
		if j.exits {
			rows = append(rows, row{id: j.id + "_vmm", label: fmt.Sprintf("%s: exits to the VMM process per request", j.name),
				short: j.short + " VMM exits/req", unit: "exits"})
		}
	}
	return &section{
		name: "disk-guest", cols: tinyColumns,
		limit: "none for guest-driven rows: the guest's own CPU (about 4 million instructions a second on this KVM) bounds them under any VMM",
		rows:  rows,
		prepare: func(b *bench) [numCols]string {
			skip := [numCols]string{colQEMU: b.qemuWhy, colLimit: "none (below)"}
			if err := d.makeImage(); err != nil {
				why := "no disk image: " + err.Error()
				return [numCols]string{why, why, why}
			}
			d.trace, d.traceWhy = newKVMTrace()
			if d.traceWhy != "" {
				fmt.Fprintf(os.Stderr, "disk: exits are not counted: %s\n", d.traceWhy)
			}
			return skip
		},
		measure: func(b *bench, c column) (sample, error) { return b.runDisk(c, d) },
	}
}

// perfJob is one of blk_perf's jobs (guest/kernel/tests_blk.c, perf_jobs),
// in the order it runs them: index k is marked 2k and 2k+1 on port 0x80.
type perfJob struct {
	name      string // as the guest prints it
	id        string
	label     string
	short     string
	unit      string // IOPS or MB/s
	goals     []goal
	exits     bool // also report exits per request
	exitGoals []goal
}

var perfJobs = []perfJob{
	{name: "randread 4k qd1", id: "rr4k1", label: "guest: 4 KiB random read, QD 1 (IOPS)", short: "4K read QD1", unit: "IOPS", exits: true},
	{name: "randread 4k qd32", id: "rr4k32", label: "guest: 4 KiB random read, QD 32 (IOPS)", short: "4K read QD32", unit: "IOPS",
		goals: []goal{atLeast(colQEMU, 1.2)}, exits: true, exitGoals: []goal{below(colQEMU, 1)}},
	{name: "randwrite 4k qd1", id: "rw4k1", label: "guest: 4 KiB random write, QD 1 (IOPS)", short: "4K write QD1", unit: "IOPS"},
	{name: "randwrite 4k qd32", id: "rw4k32", label: "guest: 4 KiB random write, QD 32 (IOPS)", short: "4K write QD32", unit: "IOPS",
		goals: []goal{atLeast(colQEMU, 1.2)}, exits: true, exitGoals: []goal{below(colQEMU, 1)}},
	{name: "seqread 1m qd8", id: "sr1m", label: "guest: 1 MiB sequential read, QD 8 (MB/s)", short: "1M read", unit: "MB/s", exits: true},
	{name: "seqwrite 1m qd8", id: "sw1m", label: "guest: 1 MiB sequential write, QD 8 (MB/s)", short: "1M write", unit: "MB/s"},
}

// diskOpts: where the guest-driven rows' image lives, and the tracing.
type diskOpts struct {
	dir   string // a directory on a real disk (O_DIRECT fails on tmpfs)
	image string
	// the device-alone section's file and compiled benchmark
	benchFile, blockTest string
	trace                *kvmTrace
	traceWhy             string
}

// makeImage writes the image once: random bytes, not sparse, so that reads
// reach the disk under both VMMs.
func (d *diskOpts) makeImage() error {
	dir, err := os.MkdirTemp(d.dir, "vmm-bench-disk-")
	if err != nil {
		return fmt.Errorf("%v (-disk-dir names a directory on a real disk)", err)
	}
	buf := make([]byte, guest.PerfDiskBytes)
	if _, err := rand.Read(buf); err != nil {
		return err
	}
	d.image = filepath.Join(dir, "perf.img")
	return os.WriteFile(d.image, buf, 0o644)
}

func (d *diskOpts) cleanup() {
	d.trace.close()
	if d.image != "" {
		_ = os.RemoveAll(filepath.Dir(d.image))
	}
}

// diskArgv boots blk_perf with the image as its one disk.
func (b *bench) diskArgv(c column, image string) []string {
	argv := b.tinyArgv(c, "test=blk_perf", guestOpts{})
	if c == colVMM {
		return append(argv, "--disk", image+",direct")
	}
	// microvm appends virtio_mmio.device= for each transport in use only
	// without ACPI, and the guest's driver wants virtio-mmio version 2.
	for i := range argv {
		if argv[i] == "-M" {
			argv[i+1] = "microvm,rtc=on,acpi=off"
		}
	}
	return append(argv, "-global", "virtio-mmio.force-legacy=false",
		"-drive", "id=d0,file="+image+",if=none,aio=io_uring,cache=none,format=raw",
		"-device", "virtio-blk-device,drive=d0")
}

// runDisk runs blk_perf once under c, with the exits traced when it can.
func (b *bench) runDisk(c column, d *diskOpts) (sample, error) {
	unlock, err := b.lock(benchLock)
	if err != nil {
		return sample{}, err
	}
	defer unlock()
	if d.trace != nil {
		if err := d.trace.start(); err != nil {
			return sample{}, fmt.Errorf("tracing: %v", err)
		}
	}
	p, err := startProc(b.diskArgv(c, d.image), false)
	if err != nil {
		return sample{}, err
	}
	werr := p.wait(2 * time.Minute)
	var counts map[int]exitCount
	var terr error
	if d.trace != nil {
		counts, terr = d.trace.stop(p.cmd.Process.Pid)
	}
	if werr != nil {
		return sample{}, werr
	}
	if err := checkPass(p, c, "PASS blk_perf"); err != nil {
		return sample{}, err
	}
	res, err := parsePerf(p.stdout())
	if err != nil {
		return sample{}, fmt.Errorf("%v%s", err, p.tail())
	}
	smp := sample{values: map[string]float64{}, notes: map[string]string{}}
	for k, j := range perfJobs {
		r, ok := res[j.name]
		if !ok {
			return sample{}, fmt.Errorf("blk_perf printed no %q line%s", j.name, p.tail())
		}
		smp.values[j.id] = r.iops
		if j.unit == "MB/s" {
			smp.values[j.id] = r.mbs
		}
		if !j.exits {
			continue
		}
		why := ""
		switch e, ok := counts[k]; {
		case d.trace == nil:
			why = "not counted: " + d.traceWhy
		case terr != nil:
			why = "not counted: " + terr.Error()
		case !ok:
			why = "not counted: no port 0x80 marks in the trace"
		case e.lost:
			why = "not counted: the trace lost events"
		default:
			smp.values[j.id+"_exits"] = float64(e.exits()) / float64(r.requests)
			smp.values[j.id+"_vmm"] = float64(e.userspace) / float64(r.requests)
		}
		if why != "" {
			smp.notes[j.id+"_exits"], smp.notes[j.id+"_vmm"] = why, why
		}
	}
	return smp, nil
}

// perfResult is one blk_perf line.
type perfResult struct {
	requests  int
	iops, mbs float64
}

// blk_perf: randread 4k qd32: 4000 requests in 889933 us: 4494 IOPS, 18.41 MB/s, 0.03 notifies/req, 0.03 interrupts/req
var perfLine = regexp.MustCompile(`(?m)^blk_perf: ([a-z0-9 ]+): ([0-9]+) requests in [0-9]+ us: ([0-9]+) IOPS, ([0-9.]+) MB/s`)

// parsePerf reads blk_perf's job lines, by job name.
func parsePerf(out string) (map[string]perfResult, error) {
	res := map[string]perfResult{}
	for _, m := range perfLine.FindAllStringSubmatch(out, -1) {
		n, err1 := strconv.Atoi(m[2])
		iops, err2 := strconv.ParseFloat(m[3], 64)
		mbs, err3 := strconv.ParseFloat(m[4], 64)
		if err1 != nil || err2 != nil || err3 != nil || n == 0 {
			return nil, fmt.Errorf("unreadable blk_perf line %q", m[0])
		}
		res[m[1]] = perfResult{requests: n, iops: iops, mbs: mbs}
	}
	if len(res) == 0 {
		return nil, fmt.Errorf("blk_perf printed no job line")
	}
	return res, nil
}
