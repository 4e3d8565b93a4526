package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// diskDeviceSection: the virtio-blk device alone, no VM (BenchmarkDevice
// in devices/virtio/block: queue, worker and io_uring backend on a real
// O_DIRECT file, driven in-process through its rings by a driver that
// lays out requests as a guest would), against host fio with io_uring and
// O_DIRECT on the same file, same request size, depth and count: the
// limit. The same pairing as scripts/bench-blk-backend.sh, whose fio jobs
// these are.
func diskDeviceSection(d *diskOpts) *section {
	rows := []row{}
	for _, w := range devWorkloads {
		rows = append(rows, row{id: w.name, label: w.label, short: w.short, unit: w.unit, goals: w.goals, higher: true})
	}
	for _, w := range devWorkloads {
		rows = append(rows, row{id: w.name + "_cpu", label: w.cpuLabel, short: w.short + " CPU/GiB", unit: "ms"})
	}
	return &section{
		name: "disk-device", cols: [numCols]string{"vmm device alone", "QEMU microvm", "host fio"},
		limit: "fio 3.33 on the host, --ioengine=io_uring --direct=1, the same file, request size, depth and request count",
		rows:  rows,
		prepare: func(b *bench) [numCols]string {
			skip := [numCols]string{colQEMU: "QEMU's device model does not run outside QEMU"}
			if _, err := exec.LookPath("fio"); err != nil {
				skip[colLimit] = "fio not found (make bench-deps installs it)"
			}
			d.benchFile = os.Getenv("BLK_BENCH_FILE")
			if d.benchFile == "" {
				d.benchFile = filepath.Join(d.dir, "vmm-blk-bench.dat")
			}
			d.blockTest = filepath.Join(b.tmp, "block.test")
			cmd := exec.Command("go", "test", "-c", "-o", d.blockTest, "./devices/virtio/block")
			if out, err := cmd.CombinedOutput(); err != nil {
				skip[colVMM] = fmt.Sprintf("building the device benchmark failed: %v: %s", err, firstLine(string(out)))
			}
			return skip
		},
		measure: func(b *bench, c column) (sample, error) {
			smp := sample{values: map[string]float64{}}
			for _, w := range devWorkloads {
				var r devResult
				var err error
				if c == colVMM {
					r, err = b.runDevice(d, w)
				} else {
					r, err = b.runFio(d, w)
				}
				if err != nil {
					return sample{}, fmt.Errorf("%s: %v", w.name, err)
				}
				smp.values[w.name] = r.iops
				if w.unit == "MB/s" {
					smp.values[w.name] = r.mbs
				}
				smp.values[w.name+"_cpu"] = r.cpuMsPerGiB
			}
			return smp, nil
		},
	}
}

// devWorkload is one of BenchmarkDevice's workloads (benchWorkloads in
// devices/virtio/block) and its fio job.
type devWorkload struct {
	name, label, cpuLabel, short, unit string
	bs                                 int64
	count                              int // requests per run
	fio                                []string
	goals                              []goal
}

var devWorkloads = []devWorkload{
	{name: "randread4k-qd32", label: "device alone: 4 KiB random read, QD 32 (IOPS)", short: "dev 4K read QD32", unit: "IOPS",
		cpuLabel: "device alone: host CPU per GiB, 4 KiB random read QD 32 (ms)",
		bs:       4096, count: 150000, fio: []string{"--rw=randread", "--bs=4k", "--iodepth=32", "--randrepeat=0", "--norandommap"},
		goals: []goal{atLeast(colLimit, 0.8)}},
	{name: "seqread1m-qd8", label: "device alone: 1 MiB sequential read, QD 8 (MB/s)", short: "dev 1M read", unit: "MB/s",
		cpuLabel: "device alone: host CPU per GiB, 1 MiB sequential read QD 8 (ms)",
		bs:       1 << 20, count: 3000, fio: []string{"--rw=read", "--bs=1M", "--iodepth=8"},
		goals: []goal{atLeast(colLimit, 0.9)}},
	{name: "seqwrite1m-qd8", label: "device alone: 1 MiB sequential write, QD 8 (MB/s)", short: "dev 1M write", unit: "MB/s",
		cpuLabel: "device alone: host CPU per GiB, 1 MiB sequential write QD 8 (ms)",
		bs:       1 << 20, count: 3000, fio: []string{"--rw=write", "--bs=1M", "--iodepth=8"},
		goals: []goal{atLeast(colLimit, 0.9)}},
}

// devResult is one run of a workload.
type devResult struct {
	iops, mbs   float64
	cpuMsPerGiB float64 // user+system CPU per GiB moved
}

const benchFileSize = 1 << 30

// runDevice runs BenchmarkDevice for one workload, w.count requests.
func (b *bench) runDevice(d *diskOpts, w devWorkload) (devResult, error) {
	unlock, err := b.lock(benchLock)
	if err != nil {
		return devResult{}, err
	}
	defer unlock()
	cmd := exec.Command(d.blockTest, "-test.run", "^$", "-test.bench", "^BenchmarkDevice$/^"+w.name+"$",
		"-test.benchtime", fmt.Sprintf("%dx", w.count), "-test.count", "1")
	cmd.Dir = "devices/virtio/block"
	cmd.Env = append(os.Environ(), "BLK_BENCH_FILE="+d.benchFile, "BLK_BENCH_SIZE="+strconv.Itoa(benchFileSize))
	out, err := cmd.CombinedOutput()
	if err != nil {
		return devResult{}, fmt.Errorf("%v: %s", err, lastLines(string(out), 3))
	}
	return parseDeviceBench(string(out), w.bs)
}

var benchMetric = regexp.MustCompile(`([0-9.e+]+) (IOPS|MB/s|cpu-ns/op|allocs/op)`)

// parseDeviceBench reads a BenchmarkDevice result line.
func parseDeviceBench(out string, bs int64) (devResult, error) {
	for _, l := range strings.Split(out, "\n") {
		if !strings.HasPrefix(l, "BenchmarkDevice/") {
			continue
		}
		m := map[string]float64{}
		for _, f := range benchMetric.FindAllStringSubmatch(l, -1) {
			v, err := strconv.ParseFloat(f[1], 64)
			if err != nil {
				return devResult{}, fmt.Errorf("unreadable benchmark line %q", l)
			}
			m[f[2]] = v
		}
		if len(m) < 4 {
			continue
		}
		if m["allocs/op"] != 0 {
			return devResult{}, fmt.Errorf("the device allocated %v times per request: %q", m["allocs/op"], l)
		}
		perGiB := float64(1<<30) / float64(bs)
		return devResult{iops: m["IOPS"], mbs: m["MB/s"], cpuMsPerGiB: m["cpu-ns/op"] * perGiB / 1e6}, nil
	}
	return devResult{}, fmt.Errorf("no BenchmarkDevice result with IOPS, MB/s, cpu-ns/op and allocs/op: %s", lastLines(out, 3))
}

// runFio runs the workload's fio job for w.count requests (io_size beyond
// size wraps round the file; number_ios does not end a time_based job).
func (b *bench) runFio(d *diskOpts, w devWorkload) (devResult, error) {
	unlock, err := b.lock(benchLock)
	if err != nil {
		return devResult{}, err
	}
	defer unlock()
	args := append([]string{"--name=" + w.name, "--filename=" + d.benchFile, "--size=" + strconv.Itoa(benchFileSize),
		"--ioengine=io_uring", "--direct=1", "--numjobs=1", "--io_size=" + strconv.FormatInt(int64(w.count)*w.bs, 10),
		"--output-format=json"}, w.fio...)
	out, err := exec.Command("fio", args...).Output()
	if err != nil {
		return devResult{}, fmt.Errorf("fio: %v", err)
	}
	return parseFio(out)
}

// parseFio reads fio's JSON: the job's IOPS and bandwidth, and its
// usr+sys CPU share of the run per GiB moved.
func parseFio(js []byte) (devResult, error) {
	var r struct {
		Jobs []struct {
			UsrCPU      float64 `json:"usr_cpu"`
			SysCPU      float64 `json:"sys_cpu"`
			JobRuntime  float64 `json:"job_runtime"` // ms
			Read, Write struct {
				IOBytes  float64 `json:"io_bytes"`
				BwBytes  float64 `json:"bw_bytes"`
				IOPS     float64 `json:"iops"`
				TotalIOs float64 `json:"total_ios"`
			}
		} `json:"jobs"`
	}
	// fio may print notes before the JSON.
	if i := strings.IndexByte(string(js), '{'); i > 0 {
		js = js[i:]
	}
	if err := json.Unmarshal(js, &r); err != nil || len(r.Jobs) == 0 {
		return devResult{}, fmt.Errorf("unreadable fio output (%v)", err)
	}
	j := r.Jobs[0]
	io := j.Read
	if j.Write.IOBytes > 0 {
		io = j.Write
	}
	if io.IOBytes == 0 {
		return devResult{}, fmt.Errorf("fio moved no data")
	}
	cpuMs := (j.UsrCPU + j.SysCPU) / 100 * j.JobRuntime
	return devResult{iops: io.IOPS, mbs: io.BwBytes / 1e6, cpuMsPerGiB: cpuMs / (io.IOBytes / (1 << 30))}, nil
}

func lastLines(s string, n int) string {
	ls := strings.Split(strings.TrimSpace(s), "\n")
	if len(ls) > n {
		ls = ls[len(ls)-n:]
	}
	return strings.Join(ls, " | ")
}
