package telemetry

import (
	"encoding/json"
	"sync"
	"time"

	"vmm/vmm"
)

// Interval is how often Metrics writes on its own, as Firecracker does.
const Interval = 60 * time.Second

// Metrics writes Firecracker-style metrics: one JSON object per line,
// every Interval and on Flush. Counters are what happened since the
// previous line (Firecracker's SharedIncMetric), so a reader sums lines
// to get totals. docs/api.md lists the fields.
type Metrics struct {
	mu      sync.Mutex
	out     *Output
	stats   func() vmm.Stats // nil until the VM exists
	drives  []string         // drive ids, in disk order
	last    vmm.Stats
	lastDsk map[string]vmm.DiskStats
	stop    chan struct{}
	done    chan struct{}
}

// NewMetrics writes metrics to out, which it owns from now on.
func NewMetrics(out *Output) *Metrics {
	return &Metrics{out: out, lastDsk: map[string]vmm.DiskStats{}}
}

// Attach gives the metrics their source once the VM exists; drives names
// its disks (Firecracker's drive ids) in order.
func (m *Metrics) Attach(stats func() vmm.Stats, drives []string) {
	m.mu.Lock()
	m.stats, m.drives = stats, drives
	m.mu.Unlock()
}

// Start writes a line every interval until Close.
func (m *Metrics) Start(interval time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.stop != nil {
		return
	}
	stop, done := make(chan struct{}), make(chan struct{})
	m.stop, m.done = stop, done
	go func() {
		defer close(done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				_ = m.Flush()
			case <-stop:
				return
			}
		}
	}()
}

// Flush writes one line now. Safe from any goroutine.
func (m *Metrics) Flush() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	line, err := json.Marshal(m.line(time.Now()))
	if err != nil {
		return err
	}
	_, err = m.out.Write(append(line, '\n'))
	return err
}

// Close stops the periodic writes, writes a last line (as Firecracker
// does at exit) and closes the output.
func (m *Metrics) Close() error {
	m.mu.Lock()
	stop, done := m.stop, m.done
	m.stop = nil
	m.mu.Unlock()
	if stop != nil {
		close(stop)
		<-done
	}
	err := m.Flush()
	if cerr := m.out.Close(); err == nil {
		err = cerr
	}
	return err
}

// line builds one metrics object. Preconditions: m.mu held.
func (m *Metrics) line(now time.Time) map[string]any {
	var s vmm.Stats
	if m.stats != nil {
		s = m.stats()
	}
	obj := map[string]any{
		"utc_timestamp_ms": now.UnixMilli(),
		"vcpu":             deltas(s.Exits, m.last.Exits, exitNames),
		"repairs":          deltas(s.Repairs, m.last.Repairs, nil),
		"uart": map[string]uint64{
			"write_count": s.SerialOut - m.last.SerialOut,
			"read_count":  s.SerialIn - m.last.SerialIn,
		},
	}
	total := map[string]uint64{}
	for _, k := range blockNames {
		total[k] = 0
	}
	for i, d := range s.Disks {
		id := d.ID
		if i < len(m.drives) {
			id = m.drives[i]
		}
		b := blockDelta(d, m.lastDsk[id])
		for k, v := range b {
			total[k] += v
		}
		obj["block_"+id] = b
		m.lastDsk[id] = d
	}
	obj["block"] = total
	m.last = s
	return obj
}

// exitNames are the vcpu fields, present even before the VM runs.
var exitNames = []string{"exit_io_in", "exit_io_out", "exit_mmio_read", "exit_mmio_write", "exit_hlt", "exit_shutdown",
	"exit_system_event", "exit_internal_error", "exit_fail_entry", "exit_other"}

// deltas is now - before per key (keys: names, or now's).
func deltas(now, before map[string]uint64, names []string) map[string]uint64 {
	out := map[string]uint64{}
	for _, k := range names {
		out[k] = 0
	}
	for k, v := range now {
		out[k] = v - before[k]
	}
	return out
}

// blockNames are the block fields: Firecracker's names where the meaning
// is the same, vmm's own after them.
var blockNames = []string{"read_count", "write_count", "read_bytes", "write_bytes", "flush_count", "queue_event_count",
	"update_count", "update_fails", "discard_count", "write_zeroes_count", "get_id_count", "io_errors",
	"unsupported_count", "backend_errors", "interrupt_count", "guest_errors"}

func blockDelta(d, p vmm.DiskStats) map[string]uint64 {
	var guest, pguest uint64
	for _, v := range d.GuestErrors {
		guest += v
	}
	for _, v := range p.GuestErrors {
		pguest += v
	}
	return map[string]uint64{
		"read_count": d.Reads - p.Reads, "write_count": d.Writes - p.Writes,
		"read_bytes": d.BytesRead - p.BytesRead, "write_bytes": d.BytesWritten - p.BytesWritten,
		"flush_count": d.Flushes - p.Flushes, "queue_event_count": d.Kicks - p.Kicks,
		"update_count": d.Updates - p.Updates, "update_fails": d.UpdateFails - p.UpdateFails,
		"discard_count": d.Discards - p.Discards, "write_zeroes_count": d.WriteZeroes - p.WriteZeroes,
		"get_id_count": d.GetIDs - p.GetIDs, "io_errors": d.IOErrors - p.IOErrors,
		"unsupported_count": d.Unsupported - p.Unsupported, "backend_errors": d.BackendErrors - p.BackendErrors,
		"interrupt_count": d.Interrupts - p.Interrupts, "guest_errors": guest - pguest,
	}
}
