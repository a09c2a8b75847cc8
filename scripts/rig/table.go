package rig

import (
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"
)

// WriteTable writes results as a Markdown table (readable as text too).
func WriteTable(w io.Writer, rows []Result) {
	head := []string{"scenario", "dp/msg", "offered dp/s", "delivered dp/s", "lost", "dups",
		"CPU ms/1000 dp", "gw CPU %", "rig CPU %", "host CPU %", "RSS peak MB", "RSS steady MB", "p50", "p99",
		"wake-ups/s", "fsyncs/s", "written B/dp", "written MB/h", "note"}
	cells := [][]string{head}
	for _, r := range rows {
		cells = append(cells, []string{
			r.Scenario, fmt.Sprint(r.DPPerMsg), rate(r.Offered), rate(r.Delivered),
			fmt.Sprint(r.Lost), fmt.Sprint(r.Dups), fmt.Sprintf("%.1f", r.CPUPer1k),
			pct(r.CPU), fmt.Sprintf("%.0f", r.RigCPU), fmt.Sprintf("%.0f", r.HostCPU),
			mb(r.PeakRSS), mb(r.SteadyRSS), Dur(r.P50), Dur(r.P99),
			fmt.Sprintf("%.0f", r.Wakeups), unknown(r.Fsyncs, "%.1f"), unknown(r.WrPerDP, "%.1f"),
			unknown(r.WrPerHour/(1<<20), "%.1f"), r.Note,
		})
	}
	WriteCells(w, cells)
}

// WriteCells writes cells as a Markdown table, the first row its head.
func WriteCells(w io.Writer, cells [][]string) {
	if len(cells) == 0 {
		return
	}
	head := cells[0]
	widths := make([]int, len(head))
	for _, row := range cells {
		for i, c := range row {
			widths[i] = max(widths[i], utf8.RuneCountInString(c))
		}
	}
	line := func(row []string) {
		var b strings.Builder
		b.WriteString("|")
		for i, c := range row {
			fmt.Fprintf(&b, " %s%s |", c, strings.Repeat(" ", widths[i]-utf8.RuneCountInString(c)))
		}
		fmt.Fprintln(w, b.String())
	}
	line(cells[0])
	sep := make([]string, len(head))
	for i := range sep {
		sep[i] = strings.Repeat("-", widths[i])
	}
	line(sep)
	for _, row := range cells[1:] {
		line(row)
	}
}

// pct formats a CPU share: two decimals below 1 % (idle; the threads'
// schedstat counts nanoseconds, ReadUsage).
func pct(v float64) string {
	if v < 1 {
		return fmt.Sprintf("%.2f", v)
	}
	return fmt.Sprintf("%.1f", v)
}

// unknown formats v, or "-" when it is negative (not measured).
func unknown(v float64, format string) string {
	if v < 0 {
		return "-"
	}
	return fmt.Sprintf(format, v)
}

func rate(v float64) string {
	if v == 0 {
		return "0"
	}
	return fmt.Sprintf("%.0f", v)
}

func mb(b int64) string {
	if b == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f", float64(b)/(1<<20))
}

// Dur formats a duration with three significant digits.
func Dur(d time.Duration) string {
	switch {
	case d == 0:
		return "-"
	case d < time.Millisecond:
		return fmt.Sprintf("%.0fµs", float64(d)/1e3)
	case d < time.Second:
		return fmt.Sprintf("%.1fms", float64(d)/1e6)
	}
	return fmt.Sprintf("%.2fs", d.Seconds())
}
