package main

import (
	"fmt"
	"path/filepath"
	"slices"
	"time"

	"github.com/tbgw/tbgw/scripts/rig"
)

// binLabels name the binaries of an A/B comparison in the tables: their
// file names, or #1, #2, ... when two share one.
func binLabels(bins []string) []string {
	labels := make([]string, len(bins))
	seen := map[string]bool{}
	for i, b := range bins {
		labels[i] = filepath.Base(b)
		if seen[labels[i]] {
			for j := range labels {
				labels[j] = fmt.Sprintf("#%d", j+1)
			}
			return labels
		}
		seen[labels[i]] = true
	}
	return labels
}

// summarize gives, per scenario (in the order of first appearance), the
// median and range of each figure over the runs: the rows of one
// measurement scatter by tens of per cent from run to run on a VM, so
// comparisons rest on several runs taken in turns.
func summarize(rows []rig.Result) [][]string {
	var order []string
	by := map[string][]rig.Result{}
	for _, r := range rows {
		if _, ok := by[r.Scenario]; !ok {
			order = append(order, r.Scenario)
		}
		by[r.Scenario] = append(by[r.Scenario], r)
	}
	cells := [][]string{{"scenario", "runs", "CPU ms/1000 dp", "gw CPU %", "wake-ups/s", "fsyncs/s",
		"p50", "p99", "RSS steady MB", "lost", "dups"}}
	for _, name := range order {
		rs := by[name]
		figure := func(f func(rig.Result) float64, format string) string {
			var v []float64
			for _, r := range rs {
				if x := f(r); x >= 0 {
					v = append(v, x)
				}
			}
			return spread(v, func(x float64) string { return fmt.Sprintf(format, x) })
		}
		dur := func(f func(rig.Result) time.Duration) string {
			var v []float64
			for _, r := range rs {
				if d := f(r); d > 0 {
					v = append(v, float64(d))
				}
			}
			return spread(v, func(x float64) string { return rig.Dur(time.Duration(x)) })
		}
		var lost, dups uint64
		for _, r := range rs {
			lost += r.Lost
			dups += r.Dups
		}
		cells = append(cells, []string{
			name, fmt.Sprint(len(rs)),
			figure(func(r rig.Result) float64 { return r.CPUPer1k }, "%.1f"),
			figure(func(r rig.Result) float64 { return r.CPU }, "%.2f"),
			figure(func(r rig.Result) float64 { return r.Wakeups }, "%.0f"),
			figure(func(r rig.Result) float64 { return r.Fsyncs }, "%.1f"),
			dur(func(r rig.Result) time.Duration { return r.P50 }),
			dur(func(r rig.Result) time.Duration { return r.P99 }),
			figure(func(r rig.Result) float64 {
				if r.SteadyRSS <= 0 {
					return -1
				}
				return float64(r.SteadyRSS) / (1 << 20)
			}, "%.1f"),
			fmt.Sprint(lost), fmt.Sprint(dups),
		})
	}
	return cells
}

// spread is "median (min–max)" of v, the median alone for one value, "-"
// for none.
func spread(v []float64, format func(float64) string) string {
	if len(v) == 0 {
		return "-"
	}
	slices.Sort(v)
	n := len(v)
	med := v[n/2]
	if n%2 == 0 {
		med = (v[n/2-1] + v[n/2]) / 2
	}
	if n == 1 {
		return format(med)
	}
	return format(med) + " (" + format(v[0]) + "–" + format(v[n-1]) + ")"
}
