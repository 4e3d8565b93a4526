package main

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// printTables writes one markdown table per run of sections that share
// column headings, each row "median (min–max)" per column, the two ratios
// of medians, and the row's goal.
func printTables(w io.Writer, secs []*sectionResult) {
	for i := 0; i < len(secs); {
		j := i + 1
		for j < len(secs) && secs[j].Cols == secs[i].Cols {
			j++
		}
		cols := secs[i].Cols
		if n := secs[i].Rounds; n > 0 {
			fmt.Fprintf(w, "Medians of %d interleaved rounds (min–max in brackets).\n\n", n)
		}
		fmt.Fprintf(w, "| | %s | %s | %s | vmm/%s | vmm/%s | goal |\n", cols[0], cols[1], cols[2],
			shortCol(cols[1]), shortCol(cols[2]))
		fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---|")
		for _, s := range secs[i:j] {
			for _, r := range s.Rows {
				fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s |\n", r.Label,
					cellText(r.Cells[colVMM]), cellText(r.Cells[colQEMU]), cellText(r.Cells[colLimit]),
					ratioText(r.Cells[colVMM], r.Cells[colQEMU]), ratioText(r.Cells[colVMM], r.Cells[colLimit]),
					goalText(r))
			}
		}
		var limits []string
		for _, s := range secs[i:j] {
			if len(limits) == 0 || limits[len(limits)-1] != s.Limit {
				limits = append(limits, s.Limit)
			}
		}
		fmt.Fprintf(w, "\n%s: %s.\n\n", cols[2], strings.Join(limits, "; "))
		i = j
	}
}

// shortCol is a column heading for the ratio headings ("QEMU microvm" → "QEMU").
func shortCol(h string) string {
	switch {
	case h == "QEMU microvm, TCG":
		return "TCG"
	case strings.HasPrefix(h, "QEMU"):
		return "QEMU"
	}
	return h
}

func cellText(c *cell) string {
	if s, ok := summarize(c.Samples); ok {
		return fmt.Sprintf("%s (%s–%s)", formatValue(s.Median), formatValue(s.Min), formatValue(s.Max))
	}
	if c.Note != "" {
		return c.Note
	}
	if c.Skip != "" {
		return "skipped: " + c.Skip
	}
	return "—"
}

func ratioText(a, b *cell) string {
	r := pairedRatio(a.Samples, b.Samples)
	if math.IsNaN(r) {
		return "—"
	}
	return fmt.Sprintf("%.2f", r)
}

// goalResult says whether vmm's median meets each of r's goals.
func goalResult(r *rowResult) (met bool, text string, ok bool) {
	if len(r.Goals) == 0 {
		return false, "", false
	}
	met = true
	var parts []string
	for _, g := range r.Goals {
		v := r.Cells[colVMM].median()
		what := "vmm"
		if g.Vs != colVMM {
			v = pairedRatio(r.Cells[colVMM].Samples, r.Cells[g.Vs].Samples)
			what = "ratio"
		}
		if math.IsNaN(v) {
			parts = append(parts, g.String()+": not measured")
			met = false
			continue
		}
		verdict := "met"
		if !g.met(v) {
			verdict = fmt.Sprintf("missed (%s %s)", what, formatValue(v))
			met = false
		}
		parts = append(parts, g.String()+": "+verdict)
	}
	return met, strings.Join(parts, "; "), true
}

func goalText(r *rowResult) string {
	_, text, ok := goalResult(r)
	if !ok {
		return ""
	}
	return text
}

// formatValue prints a figure with about three significant digits.
func formatValue(v float64) string {
	switch a := math.Abs(v); {
	case a >= 1000:
		return groupThousands(strconv.FormatFloat(v, 'f', 0, 64))
	case a >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case a >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	default:
		return strconv.FormatFloat(v, 'f', 2, 64)
	}
}

func groupThousands(s string) string {
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}
