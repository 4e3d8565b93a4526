package main

import (
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Why gnuplot and not a Go plotting module: it is one Debian package
// (gnuplot-nox), it keeps go.mod free of a plotting stack (gonum/plot pulls
// in fonts, image and PDF modules) that only this script would use, and its
// script (chart.gp, kept beside chart.png) can be re-run and edited by hand.

// Columns of chart.dat: row index, vmm/QEMU, vmm/limit, the goal for each;
// for throughput rows (more is better) the inverse of each, so that on every
// bar below 1 means vmm does better.

// writeChart draws vmm/QEMU and vmm/limit for every row that has them,
// as bars from 1 (below 1: vmm is faster or smaller), with each ratio goal
// as a black dash. It leaves chart.dat and chart.gp beside chart.png.
func writeChart(dir string, secs []*sectionResult, title string) error {
	gnuplot, err := exec.LookPath("gnuplot")
	if err != nil {
		return fmt.Errorf("gnuplot is missing (make bench-deps installs gnuplot-nox): no chart")
	}
	var dat strings.Builder
	var tics []string
	n := 0
	for _, s := range secs {
		for _, r := range s.Rows {
			q := pairedRatio(r.Cells[colVMM].Samples, r.Cells[colQEMU].Samples)
			l := pairedRatio(r.Cells[colVMM].Samples, r.Cells[colLimit].Samples)
			if math.IsNaN(q) && math.IsNaN(l) {
				continue
			}
			gq, gl := math.NaN(), math.NaN()
			for _, g := range r.Goals {
				switch g.Vs {
				case colQEMU:
					gq = g.Bound
				case colLimit:
					gl = g.Bound
				}
			}
			label := r.Short
			if r.Higher {
				// Throughput: other ÷ vmm, so that below 1 is better on every bar.
				q, l, gq, gl = 1/q, 1/l, 1/gq, 1/gl
				label += " ⁻¹"
			}
			if s.Cols[colLimit] != tinyColumns[colLimit] {
				label += " (" + shortCol(s.Cols[colLimit]) + ")"
			}
			fmt.Fprintf(&dat, "%d\t%s\t%s\t%s\t%s\n", n, num(q), num(l), num(gq), num(gl))
			tics = append(tics, fmt.Sprintf("%q %d.5", label, 3*n))
			n++
		}
	}
	if n == 0 {
		return fmt.Errorf("no row has a ratio to draw")
	}
	if err := os.WriteFile(filepath.Join(dir, "chart.dat"), []byte(dat.String()), 0o644); err != nil {
		return err
	}
	bar := func(col int, offset, color, name string) string {
		x := fmt.Sprintf("($1*3%s)", offset)
		r := fmt.Sprintf("($%d)", col)
		return fmt.Sprintf(`"chart.dat" using %s:%s:(%s-0.45):(%s+0.45):(%s<1?%s:1):(%s<1?1:%s) with boxxyerror fc rgb "%s" title "%s", \
     "" using %s:(%s<1?%s*0.84:%s*1.12):(sprintf("%%.2f",%s)) with labels font ",8" notitle`,
			x, r, x, x, r, r, r, r, color, name, x, r, r, r, r)
	}
	goal := func(col int, offset string, title string) string {
		return fmt.Sprintf(`"" using ($1*3%s):%d:(0.45) with xerrorbars lc rgb "black" lw 2 pt 0 %s`, offset, col, title)
	}
	gp := fmt.Sprintf(`# Drawn by scripts/bench from chart.dat; run "gnuplot chart.gp" here to redraw.
set terminal pngcairo size 1700,760 font "sans,10" noenhanced
set output "chart.png"
set title %q
set datafile separator "\t"
set datafile missing "?"
set logscale y 10
set yrange [0.02:10]
set ytics ("0.02" 0.02, "0.05" 0.05, "0.1" 0.1, "0.2" 0.2, "0.5" 0.5, "1" 1, "2" 2, "5" 5, "10" 10)
set ylabel "vmm ÷ other; other ÷ vmm for throughput (log scale; below 1: vmm does better)"
set xtics (%s) rotate by 25 right nomirror
set xrange [-1:%d]
set grid ytics
set style fill solid 0.85 noborder
set key outside top center horizontal
set bmargin 10
plot %s, \
     %s, \
     %s, \
     %s, \
     1 with lines lc rgb "gray40" dt 2 notitle
`, title, strings.Join(tics, ", "), 3*n-1,
		bar(2, "", "#4477aa", "vmm ÷ QEMU microvm"), bar(3, "+1", "#ee7733", "vmm ÷ limit (C floor; TCG for Linux; host fio for the disk alone)"),
		goal(4, "", `title "goal"`), goal(5, "+1", "notitle"))
	if err := os.WriteFile(filepath.Join(dir, "chart.gp"), []byte(gp), 0o644); err != nil {
		return err
	}
	cmd := exec.Command(gnuplot, "chart.gp")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("gnuplot: %v: %s", err, strings.TrimSpace(string(out)))
	}
	return nil
}

func num(v float64) string {
	if math.IsNaN(v) {
		return "?"
	}
	return fmt.Sprintf("%.4f", v)
}
