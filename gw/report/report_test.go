package report

import (
	"testing"
	"time"

	"github.com/tbgw/tbgw/codec/model"
	"github.com/tbgw/tbgw/gw/connector"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time      { return c.t }
func (c *clock) add(d time.Duration) { c.t = c.t.Add(d) }
func strat(t string, ms int64) *connector.Strategy {
	return &connector.Strategy{Type: t, PeriodMs: ms}
}

func send(f *Filter, conn string, cs *connector.Strategy, v any, own *connector.Strategy) []connector.Point {
	d := connector.Data{Device: "d", Telemetry: []connector.Point{{Key: "k", Value: v, TS: 1, Report: own}}}
	f.Apply(conn, cs, &d)
	return d.Telemetry
}

func TestOnReceivedSendsAll(t *testing.T) {
	c := &clock{time.Unix(1000, 0)}
	f := New(nil, c.now)
	for i := 0; i < 3; i++ {
		if got := send(f, "c", nil, 1.0, nil); len(got) != 1 {
			t.Fatal("dropped")
		}
	}
	if f.Len() != 0 {
		t.Fatal("ON_RECEIVED must not cache")
	}
}

func TestOnChange(t *testing.T) {
	c := &clock{time.Unix(1000, 0)}
	f := New(strat("on_change", 0), c.now)
	steps := []struct {
		v    any
		sent bool
	}{{1.0, true}, {1.0, false}, {1.0005, false}, {1.1, true}, {int64(2), true}, {int64(2), false}, {"x", true}, {"x", false}}
	for i, s := range steps {
		if got := len(send(f, "c", nil, s.v, nil)) == 1; got != s.sent {
			t.Fatalf("step %d (%v): sent=%v", i, s.v, got)
		}
	}
}

func TestPrecedence(t *testing.T) {
	c := &clock{time.Unix(1000, 0)}
	f := New(strat(OnChange, 0), c.now) // global ON_CHANGE
	send(f, "c", nil, 1.0, nil)
	if len(send(f, "c", nil, 1.0, nil)) != 0 {
		t.Fatal("global ON_CHANGE not applied")
	}
	// connector-level ON_RECEIVED wins over the global one
	if len(send(f, "c2", strat(OnReceived, 0), 1.0, nil)) != 1 || len(send(f, "c2", strat(OnReceived, 0), 1.0, nil)) != 1 {
		t.Fatal("connector level not applied")
	}
	// point-level wins over the connector's
	send(f, "c3", strat(OnReceived, 0), 5.0, strat(OnChange, 0))
	if len(send(f, "c3", strat(OnReceived, 0), 5.0, strat(OnChange, 0))) != 0 {
		t.Fatal("point level not applied")
	}
}

func TestReportPeriod(t *testing.T) {
	c := &clock{time.Unix(1000, 0)}
	f := New(nil, c.now)
	s := strat(OnReportPeriod, 3000)
	if len(send(f, "c", nil, 1.0, s)) != 1 {
		t.Fatal("first value must be sent")
	}
	if len(send(f, "c", nil, 2.0, s)) != 0 {
		t.Fatal("later values only cached")
	}
	c.add(2 * time.Second)
	if due := f.Due(); len(due) != 0 {
		t.Fatalf("due too early: %v", due)
	}
	c.add(1 * time.Second)
	due := f.Due()
	if len(due["c"]) != 1 || due["c"][0].Telemetry[0].Value != 2.0 || due["c"][0].Telemetry[0].TS != c.t.UnixMilli() {
		t.Fatalf("due %+v", due)
	}
	if len(f.Due()) != 0 {
		t.Fatal("sent twice in one period")
	}
}

func TestChangeOrReportPeriod(t *testing.T) {
	c := &clock{time.Unix(1000, 0)}
	f := New(nil, c.now)
	s := strat(OnChangeOrReportPeriod, 5000)
	send(f, "c", nil, 1.0, s)
	if len(send(f, "c", nil, 1.0, s)) != 0 {
		t.Fatal("unchanged sent")
	}
	c.add(time.Second)
	if len(send(f, "c", nil, 3.0, s)) != 1 {
		t.Fatal("change not sent")
	}
	c.add(4 * time.Second) // 5 s after first, 4 s after the change
	if len(f.Due()) != 0 {
		t.Fatal("a change restarts the period")
	}
	c.add(time.Second)
	if len(f.Due()["c"]) != 1 {
		t.Fatal("periodic re-send missing")
	}
}

func TestTTLExpiry(t *testing.T) {
	c := &clock{time.Unix(1000, 0)}
	f := New(nil, c.now)
	s := &connector.Strategy{Type: OnChange, TTLSec: 10}
	send(f, "c", nil, 1.0, s)
	c.add(11 * time.Second)
	if len(send(f, "c", nil, 1.0, s)) != 1 {
		t.Fatal("expired value must count as first")
	}
}

func TestDisabledGlobalBypasses(t *testing.T) {
	f := New(strat("disabled", 0), nil)
	if !f.Bypass() || len(send(f, "c", nil, 1.0, strat(OnChange, 0))) != 1 || len(send(f, "c", nil, 1.0, strat(OnChange, 0))) != 1 {
		t.Fatal("DISABLED must turn the filter off")
	}
}

// A key-level {"type": "ON_REPORT_PERIOD"} without reportPeriod, compiled
// as connectors compile it, re-sends every 10 s, not every millisecond.
func TestKeyLevelPeriodDefault(t *testing.T) {
	s, err := (&model.StrategyConfig{Type: "ON_REPORT_PERIOD"}).Strategy()
	if err != nil {
		t.Fatal(err)
	}
	c := &clock{time.Unix(1000, 0)}
	f := New(nil, c.now)
	if len(send(f, "c", nil, 1.0, s)) != 1 {
		t.Fatal("first value must be sent")
	}
	resent := 0
	for range 9999 { // 9.999 s in 1 ms steps
		c.add(time.Millisecond)
		resent += len(f.Due())
	}
	if resent != 0 {
		t.Fatalf("re-sent %d times within 10 s", resent)
	}
	c.add(time.Millisecond)
	if len(f.Due()) != 1 {
		t.Fatal("not re-sent after 10 s")
	}
}
