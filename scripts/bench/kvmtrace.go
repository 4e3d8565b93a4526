package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// Counting a guest's exits, the same way under any VMM. kvm_pvm fires no
// kvm:kvm_exit tracepoint and refuses reads of KVM's debugfs counters
// (EPERM), so the bench counts what makes the guest leave for the host
// from the tracepoints that do fire: every MMIO access (kvm_mmio: a
// QueueNotify into an ioeventfd, a LAPIC EOI, a virtio register), every
// port access (kvm_pio), every halt (kvm_vcpu_wakeup), and separately the
// exits that reach the VMM process (kvm_userspace_exit). The guest marks
// each job with a byte to port 0x80 (blk_perf: 2k before job k, 2k+1
// after), so each job's events are those between its two marks.

const tracefs = "/sys/kernel/tracing"

var traceEvents = []string{"kvm_mmio", "kvm_pio", "kvm_vcpu_wakeup", "kvm_userspace_exit"}

// kvmTrace is a tracefs instance of the bench's own, recording those
// events for every process with each line's thread-group id.
type kvmTrace struct{ dir string }

// newKVMTrace makes the instance, or says why it cannot.
func newKVMTrace() (*kvmTrace, string) {
	if _, err := os.Stat(filepath.Join(tracefs, "instances")); err != nil {
		return nil, fmt.Sprintf("no tracefs at %s (as root: mount -t tracefs none %s)", tracefs, tracefs)
	}
	for _, e := range traceEvents {
		if _, err := os.Stat(filepath.Join(tracefs, "events/kvm", e)); err != nil {
			return nil, fmt.Sprintf("this kernel has no kvm:%s tracepoint", e)
		}
	}
	dir := filepath.Join(tracefs, "instances", fmt.Sprintf("vmm-bench-%d", os.Getpid()))
	if err := os.Mkdir(dir, 0o755); err != nil && !os.IsExist(err) {
		return nil, fmt.Sprintf("cannot make a tracefs instance (needs root): %v", err)
	}
	t := &kvmTrace{dir: dir}
	settings := [][2]string{{"tracing_on", "0"}, {"buffer_size_kb", "16384"}, {"options/record-tgid", "1"}}
	for _, e := range traceEvents {
		settings = append(settings, [2]string{"events/kvm/" + e + "/enable", "1"})
	}
	for _, s := range settings {
		if err := t.write(s[0], s[1]); err != nil {
			t.close()
			return nil, fmt.Sprintf("cannot set up tracing: %v", err)
		}
	}
	return t, ""
}

func (t *kvmTrace) write(file, v string) error {
	return os.WriteFile(filepath.Join(t.dir, file), []byte(v+"\n"), 0o644)
}

// start empties the buffer and starts recording.
func (t *kvmTrace) start() error {
	if err := t.write("trace", ""); err != nil {
		return err
	}
	return t.write("tracing_on", "1")
}

// stop stops recording and counts, per job, the events of process pid.
func (t *kvmTrace) stop(pid int) (map[int]exitCount, error) {
	if err := t.write("tracing_on", "0"); err != nil {
		return nil, err
	}
	f, err := os.Open(filepath.Join(t.dir, "trace"))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return countExits(f, pid)
}

func (t *kvmTrace) close() {
	if t != nil {
		_ = t.write("tracing_on", "0")
		_ = os.Remove(t.dir)
	}
}

// exitCount is what one job made the guest do.
type exitCount struct {
	mmio, pio, halts int // accesses that trap, and halts
	userspace        int // exits to the VMM process
	lost             bool
}

// exits is every trap: MMIO and port accesses and halts.
func (e exitCount) exits() int { return e.mmio + e.pio + e.halts }

// A trace line: "  vmm-1118    (   1116) [001] .....   458.668379: kvm_pio: pio_write at 0x80 size 1 count 1 val 0x0"
var traceLine = regexp.MustCompile(`^\s*.+?-\d+\s+\(\s*(\d+)\)\s+\[\d+\]\s+\S+\s+[0-9.]+: (kvm_\w+): (.*)$`)

// markPort is where blk_perf writes its job marks.
const markPort = "0x80"

// countExits reads a trace and returns the events of thread group pid
// between each job's marks, by job index.
func countExits(r io.Reader, pid int) (map[int]exitCount, error) {
	jobs := map[int]exitCount{}
	cur := -1 // the job being counted
	want := strconv.Itoa(pid)
	lost := false
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			if strings.Contains(line, "LOST") {
				lost = true
			}
			continue
		}
		if strings.Contains(line, "LOST") && strings.Contains(line, "EVENTS") {
			lost = true
			continue
		}
		m := traceLine.FindStringSubmatch(line)
		if m == nil || m[1] != want {
			continue
		}
		ev, args := m[2], m[3]
		if ev == "kvm_pio" && strings.HasPrefix(args, "pio_write at "+markPort+" ") {
			v, err := markValue(args)
			if err != nil {
				return nil, err
			}
			if v%2 == 0 {
				cur = v / 2
			} else {
				if cur == v/2 {
					c := jobs[cur]
					c.lost = lost
					jobs[cur] = c
				}
				cur = -1
			}
			continue
		}
		if cur < 0 {
			continue
		}
		c := jobs[cur]
		switch ev {
		case "kvm_mmio":
			// A read the VMM answers shows twice: "unsatisfied-read" on the
			// way out, "read" when it completes. Count it once.
			if !strings.HasPrefix(args, "mmio unsatisfied-read") {
				c.mmio++
			}
		case "kvm_pio":
			c.pio++
		case "kvm_vcpu_wakeup":
			c.halts++
		case "kvm_userspace_exit":
			c.userspace++
		}
		jobs[cur] = c
	}
	return jobs, sc.Err()
}

var markVal = regexp.MustCompile(`val 0x([0-9a-f]+)`)

func markValue(args string) (int, error) {
	m := markVal.FindStringSubmatch(args)
	if m == nil {
		return 0, fmt.Errorf("a port %s mark without a value: %q", markPort, args)
	}
	v, err := strconv.ParseInt(m[1], 16, 32)
	return int(v), err
}
