package main

import (
	"fmt"
	"math"
	"os"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// column is one of the three things each row compares.
type column int

const (
	colVMM column = iota
	colQEMU
	colLimit
	numCols
)

// row is one line of the table: one figure measured under each column.
type row struct {
	id    string // key in a sample
	label string // table text
	short string // chart label
	unit  string
	goals []goal
	// higher is set for rows where more is better (throughput): the chart
	// draws their ratios upside down, so that below 1 is better throughout.
	higher bool
}

// goal is one condition on vmm's median: against another column's median
// (vs colQEMU or colLimit), or absolute (vs colVMM: vmm itself against
// Bound). By default vmm must be at most Bound; AtLeast turns that round
// (throughput), Strict makes the bound itself a miss ("fewer than").
type goal struct {
	Vs      column  `json:"vs"` // 0: vmm's own figure, 1: QEMU, 2: limit
	Bound   float64 `json:"max"`
	AtLeast bool    `json:"at_least,omitempty"`
	Strict  bool    `json:"strict,omitempty"`
}

func atMost(vs column, bound float64) goal  { return goal{Vs: vs, Bound: bound} }
func atLeast(vs column, bound float64) goal { return goal{Vs: vs, Bound: bound, AtLeast: true} }
func below(vs column, bound float64) goal   { return goal{Vs: vs, Bound: bound, Strict: true} }

func (g goal) op() string {
	switch {
	case g.AtLeast && g.Strict:
		return ">"
	case g.AtLeast:
		return "≥"
	case g.Strict:
		return "<"
	}
	return "≤"
}

func (g goal) String() string {
	switch g.Vs {
	case colQEMU:
		return fmt.Sprintf("%s %.2f× QEMU", g.op(), g.Bound)
	case colLimit:
		return fmt.Sprintf("%s %.2f× limit", g.op(), g.Bound)
	}
	return fmt.Sprintf("%s %g", g.op(), g.Bound)
}

// met says whether v (a ratio or vmm's own figure) meets the goal.
func (g goal) met(v float64) bool {
	switch {
	case g.AtLeast && g.Strict:
		return v > g.Bound
	case g.AtLeast:
		return v >= g.Bound
	case g.Strict:
		return v < g.Bound
	}
	return v <= g.Bound
}

// section is a group of rows measured by the same runs: one module of the
// bench. A new kind of measurement (disk I/O, say) is one more section.
type section struct {
	name     string          // for -only
	cols     [numCols]string // column headings; sections with equal headings share a table
	limit    string          // what the third column is, for the notes under the table
	rows     []row
	rounds   int  // 0: the bench's -rounds
	optional bool // runs only when named in -only (it costs minutes)
	noWarmup bool // skip the unrecorded first round (runs long enough without it)
	// prepare returns, per column, why it cannot run here ("" if it can).
	prepare func(b *bench) [numCols]string
	// measure runs column c once and returns a figure (or a note) per row.
	measure func(b *bench, c column) (sample, error)
}

// sample is one run's figures, by row id. A note stands in for a figure
// the run cannot give (a guest that stops early, say).
type sample struct {
	values map[string]float64
	notes  map[string]string
}

// cell is what one column measured for one row over all rounds.
type cell struct {
	Samples []float64 `json:"samples,omitempty"`
	Note    string    `json:"note,omitempty"`
	Skip    string    `json:"skip,omitempty"` // why there are no samples
}

func (c cell) median() float64 {
	if s, ok := summarize(c.Samples); ok {
		return s.Median
	}
	return math.NaN()
}

// rowResult is a row with its cells, as written to results.json.
type rowResult struct {
	ID     string         `json:"id"`
	Label  string         `json:"label"`
	Short  string         `json:"short"`
	Unit   string         `json:"unit"`
	Higher bool           `json:"higher_is_better,omitempty"`
	Goals  []goal         `json:"goals,omitempty"`
	Cells  [numCols]*cell `json:"cells"` // vmm, QEMU, limit
}

type sectionResult struct {
	Name   string          `json:"name"`
	Rounds int             `json:"rounds"`
	Cols   [numCols]string `json:"columns"`
	Limit  string          `json:"limit"`
	Rows   []*rowResult    `json:"rows"`
}

// bench holds what every section needs: paths, tools and the lock.
type bench struct {
	repo, tmp string
	vmm       string // bin/vmm
	kernel    string // guest/build/tiny.elf
	qemu      string // qemu-system-x86_64, "" when missing
	qemuWhy   string // why it is missing
	floor     string // the compiled C floor, "" when it could not be built
	floorWhy  string
	memMiB    int
	rounds    int
	launchNs  []int
	linux     linuxOpts
	lockWait  time.Duration
	verbose   bool
}

// benchLock serialises measured runs with every other benchmark on the
// machine (scripts/bench-iouring.sh takes the same lock with flock(1)).
const benchLock = "/tmp/vmm-bench.lock"

// lock takes an exclusive flock on path and returns its release.
func (b *bench) lock(path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o666)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	t0 := time.Now()
	for {
		err = unix.Flock(int(f.Fd()), unix.LOCK_EX)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	b.lockWait += time.Since(t0)
	return func() {
		_ = unix.Flock(int(f.Fd()), unix.LOCK_UN)
		f.Close()
	}, nil
}

// order rotates the columns by round, so no column always runs first.
func order(round int) []column {
	cols := make([]column, numCols)
	for i := range cols {
		cols[i] = column((i + round) % int(numCols))
	}
	return cols
}

// runSection measures s: a warm-up run per column, then rounds of one run
// per column in rotating order. A column that fails is reported and
// dropped from the rest of the section.
func (b *bench) runSection(s *section) *sectionResult {
	res := &sectionResult{Name: s.name, Cols: s.cols, Limit: s.limit}
	for _, r := range s.rows {
		rr := &rowResult{ID: r.id, Label: r.label, Short: r.short, Unit: r.unit, Higher: r.higher, Goals: r.goals}
		for c := range rr.Cells {
			rr.Cells[c] = &cell{}
		}
		res.Rows = append(res.Rows, rr)
	}
	skip := s.prepare(b)
	setSkip := func(c column, why string) {
		skip[c] = why
		for _, rr := range res.Rows {
			rr.Cells[c].Skip = why
		}
	}
	for c := range skip {
		if skip[c] != "" {
			setSkip(column(c), skip[c])
			fmt.Fprintf(os.Stderr, "%s: skipping %s: %s\n", s.name, s.cols[c], skip[c])
		}
	}
	rounds := s.rounds
	if rounds == 0 {
		rounds = b.rounds
	}
	res.Rounds = rounds
	first := -1 // round -1 warms up: page cache, CPU frequency, lazy kernel state
	if s.noWarmup {
		first = 0
	}
	for round := first; round < rounds; round++ {
		var line []string
		for _, c := range order(round + 1) {
			if skip[c] != "" {
				continue
			}
			smp, err := s.measure(b, c)
			if err != nil {
				fmt.Fprintf(os.Stderr, "%s: %s failed, dropping the column: %v\n", s.name, s.cols[c], err)
				setSkip(c, "failed: "+firstLine(err.Error()))
				continue
			}
			if round < 0 {
				continue
			}
			for _, rr := range res.Rows {
				if v, ok := smp.values[rr.ID]; ok {
					rr.Cells[c].Samples = append(rr.Cells[c].Samples, v)
				}
				if n, ok := smp.notes[rr.ID]; ok {
					rr.Cells[c].Note = n
				}
			}
			line = append(line, fmt.Sprintf("%s %s", s.cols[c], smp.brief(s.rows)))
		}
		if round >= 0 {
			fmt.Fprintf(os.Stderr, "%s %d/%d: %s\n", s.name, round+1, rounds, strings.Join(line, "; "))
		}
	}
	return res
}

// brief is a one-line progress summary of a sample.
func (smp sample) brief(rows []row) string {
	var parts []string
	for _, r := range rows {
		if v, ok := smp.values[r.id]; ok {
			parts = append(parts, formatValue(v))
		} else if n, ok := smp.notes[r.id]; ok {
			parts = append(parts, n)
		}
	}
	return strings.Join(parts, " ")
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}
