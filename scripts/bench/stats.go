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
