package telemetry

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"vmm/vmm"
)

// readLines decodes every metrics line in path.
func readLines(t *testing.T, path string) []map[string]any {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []map[string]any
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		out = append(out, m)
	}
	return out
}

func field(t *testing.T, line map[string]any, section, key string) float64 {
	t.Helper()
	s, ok := line[section].(map[string]any)
	if !ok {
		t.Fatalf("no section %q in %v", section, line)
	}
	v, ok := s[key].(float64)
	if !ok {
		t.Fatalf("no %s.%s in %v", section, key, s)
	}
	return v
}

// TestMetricsLines: a line before the VM exists has every vcpu and block
// field at zero; after that each line holds what changed since the one
// before, per drive (by drive id) and summed in "block"; Close writes a
// last line.
func TestMetricsLines(t *testing.T) {
	p := filepath.Join(t.TempDir(), "metrics.json")
	out, err := OpenOutput(p)
	if err != nil {
		t.Fatal(err)
	}
	m := NewMetrics(out)
	if err := m.Flush(); err != nil {
		t.Fatal(err)
	}
	s := vmm.Stats{Exits: map[string]uint64{"exit_io_out": 10}, Repairs: map[string]uint64{"int3": 1}, SerialOut: 5,
		Disks: []vmm.DiskStats{{ID: "vmm-disk0", Reads: 3, BytesRead: 1536}, {ID: "d1", Writes: 2}}}
	m.Attach(func() vmm.Stats { return s }, []string{"rootfs", "data"})
	if err := m.Flush(); err != nil {
		t.Fatal(err)
	}
	s.Exits = map[string]uint64{"exit_io_out": 15}
	s.Disks = []vmm.DiskStats{{ID: "vmm-disk0", Reads: 4, BytesRead: 2048}, {ID: "d1", Writes: 2}}
	s.SerialOut = 9
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	lines := readLines(t, p)
	if len(lines) != 3 {
		t.Fatalf("%d lines, want 3", len(lines))
	}
	if field(t, lines[0], "vcpu", "exit_mmio_write") != 0 || field(t, lines[0], "block", "read_count") != 0 {
		t.Errorf("first line %v", lines[0])
	}
	if _, ok := lines[0]["utc_timestamp_ms"].(float64); !ok {
		t.Errorf("no timestamp: %v", lines[0])
	}
	checks := []struct {
		line         int
		section, key string
		want         float64
	}{
		{1, "vcpu", "exit_io_out", 10}, {1, "block_rootfs", "read_count", 3}, {1, "block_data", "write_count", 2},
		{1, "block", "read_bytes", 1536}, {1, "uart", "write_count", 5}, {1, "repairs", "int3", 1},
		{2, "vcpu", "exit_io_out", 5}, {2, "block_rootfs", "read_count", 1}, {2, "block_rootfs", "read_bytes", 512},
		{2, "block_data", "write_count", 0}, {2, "block", "read_count", 1}, {2, "uart", "write_count", 4},
		{2, "repairs", "int3", 0},
	}
	for _, c := range checks {
		if got := field(t, lines[c.line], c.section, c.key); got != c.want {
			t.Errorf("line %d %s.%s = %v, want %v", c.line, c.section, c.key, got, c.want)
		}
	}
}

// TestMetricsPeriodic: Start writes lines on its own; Close stops it (the
// race detector checks the two goroutines) and adds the last line.
func TestMetricsPeriodic(t *testing.T) {
	p := filepath.Join(t.TempDir(), "metrics.json")
	out, err := OpenOutput(p)
	if err != nil {
		t.Fatal(err)
	}
	m := NewMetrics(out)
	m.Start(time.Millisecond)
	for deadline := time.Now().Add(30 * time.Second); len(readLines(t, p)) < 2; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no periodic lines")
		}
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	n := len(readLines(t, p))
	time.Sleep(20 * time.Millisecond)
	if len(readLines(t, p)) != n {
		t.Error("lines written after Close")
	}
}
