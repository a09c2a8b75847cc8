package gw

import (
	"fmt"
	"testing"
	"time"

	"github.com/tbgw/tbgw/gw/connector"
)

func TestHousekeepingWait(t *testing.T) {
	s := time.Second
	for _, c := range []struct {
		dirty, watch bool
		every, since time.Duration
		want         time.Duration
	}{
		{dirty: true, want: s},                                                                                  // a save within a second
		{watch: true, every: 10 * s, since: 3 * s, want: 7 * s},                                                 // the next check, no timer each second
		{watch: true, every: 10 * s, since: 12 * s, want: 0},                                                    // overdue: at once
		{dirty: true, watch: true, every: 10 * s, since: 3 * s, want: s},                                        // the save comes first
		{dirty: true, watch: true, every: 10 * s, since: 9500 * time.Millisecond, want: 500 * time.Millisecond}, // the check comes first
	} {
		if got := housekeepingWait(c.dirty, c.watch, c.every, c.since); got != c.want {
			t.Errorf("housekeepingWait(%v, %v, %v, %v) = %v, want %v", c.dirty, c.watch, c.every, c.since, got, c.want)
		}
	}
}

// TestStampsPrunedWithoutTimer: stamps keep a device's telemetry times
// unique, and the old ones are forgotten by stamp itself, at most once
// per stampKeepMS, so that no housekeeping timer runs while data flows.
func TestStampsPrunedWithoutTimer(t *testing.T) {
	g := &Gateway{lastTS: map[string]int64{}}
	t0 := time.UnixMilli(1_700_000_000_000)
	data := func(dev string) *connector.Data {
		return &connector.Data{Device: dev, Telemetry: []connector.Point{{Key: "v", Value: 1}}}
	}
	// Three messages of one device in one millisecond: three times.
	var got []int64
	for range 3 {
		d := data("a")
		g.stamp(d, t0)
		got = append(got, d.Telemetry[0].TS)
	}
	if want := []int64{t0.UnixMilli(), t0.UnixMilli() + 1, t0.UnixMilli() + 2}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("stamps %v, want %v", got, want)
	}
	// Many devices once, then one device for longer than stampKeepMS:
	// the others are forgotten.
	for i := range 100 {
		g.stamp(data(fmt.Sprint("dev-", i)), t0)
	}
	for ms := int64(0); ms <= 2*stampKeepMS; ms += 1000 {
		g.stamp(data("a"), t0.Add(time.Duration(ms)*time.Millisecond))
	}
	if len(g.lastTS) != 1 {
		t.Fatalf("%d stamps kept, want 1 (a)", len(g.lastTS))
	}
	// A stamp given already is never reused, even after a prune.
	d := data("a")
	g.stamp(d, t0)
	if last := t0.UnixMilli() + 2*stampKeepMS; d.Telemetry[0].TS != last+1 {
		t.Fatalf("stamp %d after the clock stepped back, want %d", d.Telemetry[0].TS, last+1)
	}
}
