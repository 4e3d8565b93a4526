// Command bench measures vmm beside QEMU's microvm machine and beside the
// least a VMM can do on this host (a small C program on /dev/kvm), in the
// same run with interleaved rounds, and prints one table: each row
// "vmm | QEMU microvm | limit | vmm/QEMU | vmm/limit | goal", medians with
// min and max. It also writes results.json, table.md and chart.png.
//
//	go run ./scripts/bench [flags]     (make bench runs it after make build)
//
// Every measured run holds /tmp/vmm-bench.lock, so other benchmarks on the
// machine never overlap one. See docs/performance.md.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run() error {
	var (
		b         bench
		only      = flag.String("only", "exits,boot,launch,memory,disk", "sections to run, comma-separated: exits, boot, launch, memory, disk (both disk-guest and disk-device), disk-guest, disk-device, linux (minutes; also BENCH_LINUX=1), or all")
		diskDir   = flag.String("disk-dir", "/var/tmp", "a directory on a real disk (O_DIRECT fails on tmpfs) for the disk sections' image and file")
		launch    = flag.String("launch", "10,50", "how many VMs the launch section starts at once, comma-separated")
		out       = flag.String("out", "build/bench", "directory for results.json, table.md and chart.png")
		lkernel   = flag.String("linux-kernel", "build/linux-guest/current/vmlinux", "Linux guest kernel for the linux section")
		linitrd   = flag.String("linux-initrd", "build/linux-guest/current/initramfs.cpio.gz", "its initramfs")
		lrounds   = flag.Int("linux-rounds", 3, "rounds of the linux section")
		ltimeout  = flag.Duration("linux-timeout", 5*time.Minute, "how long one Linux boot may take to reach init")
		vmmBin    = flag.String("vmm", "bin/vmm", "the vmm binary")
		kernel    = flag.String("kernel", "guest/build/tiny.elf", "the tiny test kernel")
		chartName = flag.String("chart", "", "also copy the chart to this path (e.g. docs/performance.png)")
		redraw    = flag.String("redraw", "", "measure nothing: print the table and draw the chart again from DIR/results.json")
	)
	flag.IntVar(&b.rounds, "rounds", 11, "measured rounds per section (each runs every column once)")
	flag.IntVar(&b.memMiB, "mem", 256, "guest RAM in MiB for the tiny kernel")
	flag.Parse()
	if flag.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q (flags only; -h lists them)", flag.Arg(0))
	}
	if b.rounds < 1 {
		return fmt.Errorf("-rounds %d: need at least 1", b.rounds)
	}
	for _, f := range strings.Split(*launch, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 || n > 500 {
			return fmt.Errorf("-launch %q: want counts from 1 to 500, comma-separated", *launch)
		}
		b.launchNs = append(b.launchNs, n)
	}
	b.linux = linuxOpts{kernel: *lkernel, initrd: *linitrd, memMiB: 512, rounds: *lrounds, timeout: *ltimeout}

	disk := &diskOpts{dir: *diskDir}
	defer disk.cleanup()
	all := map[string]*section{
		"exits": exitsSection(), "boot": bootSection(), "launch": launchSection(b.launchNs),
		"memory": memorySection(), "disk-guest": diskSection(disk), "disk-device": diskDeviceSection(disk),
		"linux": linuxSection(&b.linux),
	}
	names := []string{"exits", "boot", "launch", "memory", "disk-guest", "disk-device", "linux"}
	want := map[string]bool{}
	for _, n := range strings.Split(*only, ",") {
		n = strings.TrimSpace(n)
		switch {
		case n == "all":
			for _, k := range names {
				want[k] = true
			}
		case n == "disk":
			want["disk-guest"], want["disk-device"] = true, true
		case all[n] != nil:
			want[n] = true
		default:
			return fmt.Errorf("-only: no section %q (have %s, disk, all)", n, strings.Join(names, ", "))
		}
	}
	if os.Getenv("BENCH_LINUX") == "1" {
		want["linux"] = true
	}

	if *redraw != "" {
		var r report
		js, err := os.ReadFile(filepath.Join(*redraw, "results.json"))
		if err == nil {
			err = json.Unmarshal(js, &r)
		}
		if err != nil {
			return fmt.Errorf("-redraw: %v", err)
		}
		return r.write(*redraw, *chartName)
	}
	if err := b.setup(*vmmBin, *kernel); err != nil {
		return err
	}
	defer os.RemoveAll(b.tmp)
	machine := describeMachine(b.qemu)
	started := time.Now()
	var results []*sectionResult
	for _, n := range names {
		if want[n] {
			results = append(results, b.runSection(all[n]))
		}
	}

	r := report{Machine: machine, Started: started, Rounds: b.rounds, Sections: results, LoadEnd: loadAverage(),
		Took: time.Since(started).Round(time.Second).String(), LockWait: b.lockWait.Round(time.Second).String()}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	js, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(*out, "results.json"), js, 0o644); err != nil {
		return err
	}
	return r.write(*out, *chartName)
}

// report is everything one bench run measured, as kept in results.json.
type report struct {
	Machine  string           `json:"machine"`
	Started  time.Time        `json:"started"`
	Rounds   int              `json:"rounds"`
	Took     string           `json:"took"`
	LockWait string           `json:"lock_wait"`
	LoadEnd  string           `json:"load_end"`
	Sections []*sectionResult `json:"sections"`
}

// write prints the tables, saves them as dir/table.md and draws dir/chart.png
// (copied to chartCopy when set).
func (r *report) write(dir, chartCopy string) error {
	var t strings.Builder
	fmt.Fprintf(&t, "Machine: %s.\n\n", r.Machine)
	fmt.Fprintf(&t, "Each ratio is the median of the per-round ratios (both runs within seconds of each other),\nso load that drifts between rounds cancels.\n\n")
	printTables(&t, r.Sections)
	fmt.Fprintf(&t, "Took %s, of which %s waiting for other benchmarks (%s); load average %s at the end.\n",
		r.Took, r.LockWait, benchLock, r.LoadEnd)
	fmt.Print("\n" + t.String())
	if err := os.WriteFile(filepath.Join(dir, "table.md"), []byte(t.String()), 0o644); err != nil {
		return err
	}
	title := fmt.Sprintf("vmm against QEMU microvm and the limit: medians of %d rounds, %s", r.Rounds, r.Started.Format("2006-01-02"))
	if err := writeChart(dir, r.Sections, title); err != nil {
		fmt.Printf("No chart: %v\n", err)
	} else {
		fmt.Printf("Chart: %s\n", filepath.Join(dir, "chart.png"))
		if chartCopy != "" {
			if err := copyFile(filepath.Join(dir, "chart.png"), chartCopy); err != nil {
				return err
			}
		}
	}
	fmt.Printf("Results: %s, %s\n", filepath.Join(dir, "results.json"), filepath.Join(dir, "table.md"))
	return nil
}

// setup checks the inputs and finds or builds the tools for each column.
func (b *bench) setup(vmmBin, kernel string) error {
	for _, f := range []string{vmmBin, kernel} {
		if _, err := os.Stat(f); err != nil {
			return fmt.Errorf("%s is missing: run make build first (make bench does)", f)
		}
	}
	if f, err := os.OpenFile("/dev/kvm", os.O_RDWR, 0); err != nil {
		return fmt.Errorf("needs read/write access to /dev/kvm: %v", err)
	} else {
		f.Close()
	}
	b.vmm, _ = filepath.Abs(vmmBin)
	var err error
	if b.tmp, err = os.MkdirTemp("", "vmm-bench-"); err != nil {
		return err
	}
	if b.kernel, err = pvhOnlyCopy(kernel, b.tmp); err != nil {
		return err
	}
	if b.qemu, err = exec.LookPath("qemu-system-x86_64"); err != nil {
		b.qemu, b.qemuWhy = "", "qemu-system-x86_64 not found (make bench-deps installs qemu-system-x86)"
	}
	b.floor, b.floorWhy = buildFloor(b.tmp)
	return nil
}

// buildFloor compiles the C floor with the host gcc into dir.
func buildFloor(dir string) (path, why string) {
	gcc, err := exec.LookPath("gcc")
	if err != nil {
		return "", "gcc not found: the C floor cannot be built"
	}
	path = filepath.Join(dir, "floor")
	cmd := exec.Command(gcc, "-O2", "-Wall", "-Wextra", "-Werror", "-o", path, "scripts/bench/floor/floor.c")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Sprintf("building the C floor failed: %v: %s", err, firstLine(string(out)))
	}
	return path, ""
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(to)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
