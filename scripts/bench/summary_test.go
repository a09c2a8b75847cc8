package main

import (
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/tbgw/tbgw/scripts/rig"
)

func TestSpread(t *testing.T) {
	f := func(x float64) string { return strconv.FormatFloat(x, 'g', -1, 64) }
	for _, c := range []struct {
		in   []float64
		want string
	}{
		{nil, "-"},
		{[]float64{7}, "7"},
		{[]float64{9, 5, 7}, "7 (5–9)"},
		{[]float64{10, 4, 6, 8}, "7 (4–10)"},
	} {
		if got := spread(c.in, f); got != c.want {
			t.Errorf("spread(%v) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestBinLabels(t *testing.T) {
	if got, want := binLabels([]string{"/tmp/a/tbgw-old", "/tmp/b/tbgw-new"}), []string{"tbgw-old", "tbgw-new"}; !reflect.DeepEqual(got, want) {
		t.Errorf("distinct names: %v, want %v", got, want)
	}
	if got, want := binLabels([]string{"/tmp/a/tbgw", "/tmp/b/tbgw", "/tmp/c/x"}), []string{"#1", "#2", "#3"}; !reflect.DeepEqual(got, want) {
		t.Errorf("shared name: %v, want %v", got, want)
	}
}

// TestSummarize: runs of one scenario fold into one row in the order the
// scenarios first came; unknown figures (fsyncs -1, no latency) are left
// out of the median, losses and duplicates are summed.
func TestSummarize(t *testing.T) {
	row := func(name string, cpu, wake, fs float64, p99 time.Duration, lost uint64) rig.Result {
		return rig.Result{Scenario: name, CPUPer1k: cpu, CPU: cpu / 10, Wakeups: wake, Fsyncs: fs,
			P50: p99 / 2, P99: p99, SteadyRSS: 15 << 20, Lost: lost}
	}
	rows := []rig.Result{
		row("b: anchor", 60, 250, 22, 40*time.Millisecond, 0),
		row("a: anchor", 50, 200, 22, 50*time.Millisecond, 0),
		row("b: anchor", 40, 230, -1, 0, 2),
		row("a: anchor", 70, 260, 21, 30*time.Millisecond, 1),
		row("b: anchor", 50, 240, 20, 60*time.Millisecond, 0),
	}
	got := summarize(rows)
	if len(got) != 3 {
		t.Fatalf("%d rows, want head and two scenarios:\n%v", len(got), got)
	}
	want := [][]string{
		{"b: anchor", "3", "50.0 (40.0–60.0)", "5.00 (4.00–6.00)", "240 (230–250)", "21.0 (20.0–22.0)", "25.0ms (20.0ms–30.0ms)", "50.0ms (40.0ms–60.0ms)", "15.0 (15.0–15.0)", "2", "0"},
		{"a: anchor", "2", "60.0 (50.0–70.0)", "6.00 (5.00–7.00)", "230 (200–260)", "21.5 (21.0–22.0)", "20.0ms (15.0ms–25.0ms)", "40.0ms (30.0ms–50.0ms)", "15.0 (15.0–15.0)", "1", "0"},
	}
	for i, w := range want {
		if !reflect.DeepEqual(got[i+1], w) {
			t.Errorf("row %d:\n got %q\nwant %q", i+1, got[i+1], w)
		}
	}
}
