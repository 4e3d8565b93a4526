package main

import (
	"math"
	"sort"
)

// summary is what a table cell shows for one set of samples.
type summary struct {
	N                int
	Median, Min, Max float64
}

// summarize returns the median (the mean of the middle two for an even
// count), min and max; ok is false without samples.
func summarize(xs []float64) (summary, bool) {
	if len(xs) == 0 {
		return summary{}, false
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	n := len(s)
	med := s[n/2]
	if n%2 == 0 {
		med = (s[n/2-1] + s[n/2]) / 2
	}
	return summary{N: n, Median: med, Min: s[0], Max: s[n-1]}, true
}

// ratio is a/b, NaN when either is missing or b is zero.
func ratio(a, b float64) float64 {
	if math.IsNaN(a) || math.IsNaN(b) || b == 0 {
		return math.NaN()
	}
	return a / b
}

// pairedRatio compares two columns of one row: the median over rounds of
// a's sample divided by b's from the same round, so that a load that
// drifts between rounds (other work on the machine) cancels out. Columns
// of different lengths (one dropped half-way) fall back to the ratio of
// the medians.
func pairedRatio(a, b []float64) float64 {
	if len(a) == 0 || len(a) != len(b) {
		sa, oka := summarize(a)
		sb, okb := summarize(b)
		if !oka || !okb {
			return math.NaN()
		}
		return ratio(sa.Median, sb.Median)
	}
	rs := make([]float64, 0, len(a))
	for i := range a {
		if r := ratio(a[i], b[i]); !math.IsNaN(r) {
			rs = append(rs, r)
		}
	}
	s, ok := summarize(rs)
	if !ok {
		return math.NaN()
	}
	return s.Median
}
