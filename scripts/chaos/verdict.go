package main

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/tbgw/tbgw/scripts/rig"
)

// Verdict is the outcome of one scenario.
type Verdict struct {
	Name   string
	Faults int
	Acc    rig.Account
	// DupBound is the most duplicates the in-flight windows allow.
	DupBound uint64
	// Destroyed lists the messages the scenario itself destroyed in the
	// log (corrupt-tail); they may be lost, nothing else may.
	Destroyed map[string]bool
	LostList  []string
	// Fault is how long the fault lasted (outages); Reconnect the time from
	// its end until the gateway's new ThingsBoard session; Drain the time
	// from recovery until everything accepted before it was delivered.
	Fault, Reconnect, Drain time.Duration
	Backlog                 int64 // messages waiting when the fault ended
	// Ratio shows fault/drain: how much faster the backlog drained than it
	// built up (outages with a steady offered rate).
	Ratio   bool
	Skipped string
	rig     *rig.Rig // for the account and diagnosis of a failed scenario
	Note    string
	Err     error
}

// check applies the pass rules to a completed scenario.
func (v *Verdict) check() error {
	if v.Skipped != "" {
		return nil
	}
	var errs []error
	if v.Destroyed == nil && v.Acc.Lost > 0 {
		errs = append(errs, fmt.Errorf("%d accepted messages lost: %s", v.Acc.Lost, strings.Join(v.Acc.LostSample, " ")))
	}
	for _, l := range v.LostList {
		if v.Destroyed != nil && !v.Destroyed[l] {
			errs = append(errs, fmt.Errorf("lost %s, which the scenario did not destroy", l))
		}
	}
	if v.Acc.Dups > v.DupBound {
		errs = append(errs, fmt.Errorf("%d duplicates, more than the in-flight bound %d", v.Acc.Dups, v.DupBound))
	}
	return errors.Join(errs...)
}

func writeVerdicts(w io.Writer, vs []*Verdict) {
	head := []string{"scenario", "faults", "accepted", "delivered", "lost", "dups (bound)", "ts clashes",
		"fault", "reconnect", "backlog", "drain", "build/drain", "verdict", "note"}
	rows := [][]string{head}
	for _, v := range vs {
		verdict := "PASS"
		switch {
		case v.Skipped != "":
			verdict = "SKIP"
		case v.Err != nil:
			verdict = "FAIL"
		}
		ratio := "-"
		if v.Ratio && v.Fault > 0 && v.Drain > 0 {
			ratio = fmt.Sprintf("%.0f×", v.Fault.Seconds()/v.Drain.Seconds())
		}
		lost := fmt.Sprint(v.Acc.Lost)
		if v.Destroyed != nil {
			lost = fmt.Sprintf("%d (of %d destroyed)", v.Acc.Lost, len(v.Destroyed))
		}
		note := v.Note
		if v.Skipped != "" {
			note = v.Skipped
		}
		rows = append(rows, []string{v.Name, fmt.Sprint(v.Faults), fmt.Sprint(v.Acc.Acked), fmt.Sprint(v.Acc.Delivered),
			lost, fmt.Sprintf("%d (%d)", v.Acc.Dups, v.DupBound), fmt.Sprint(v.Acc.Overwrites),
			rig.Dur(v.Fault), rig.Dur(v.Reconnect), fmt.Sprint(v.Backlog), rig.Dur(v.Drain), ratio, verdict, note})
	}
	widths := make([]int, len(head))
	for _, r := range rows {
		for i, c := range r {
			widths[i] = max(widths[i], len([]rune(c)))
		}
	}
	for i, r := range rows {
		var b strings.Builder
		b.WriteString("|")
		for j, c := range r {
			fmt.Fprintf(&b, " %s%s |", c, strings.Repeat(" ", widths[j]-len([]rune(c))))
		}
		fmt.Fprintln(w, b.String())
		if i == 0 {
			b.Reset()
			b.WriteString("|")
			for j := range r {
				fmt.Fprintf(&b, " %s |", strings.Repeat("-", widths[j]))
			}
			fmt.Fprintln(w, b.String())
		}
	}
}
