package model

import (
	"reflect"
	"testing"
)

func f(v float64) *float64 { return &v }

func TestStrategyCompile(t *testing.T) {
	cases := []struct {
		cfg  *StrategyConfig
		want *Strategy
		err  bool
	}{
		{nil, nil, false},
		{&StrategyConfig{}, nil, false},
		{&StrategyConfig{Type: "on_change"}, &Strategy{Type: OnChange, TTLSec: DefaultTTLSec}, false},
		// A periodic type with no reportPeriod reports every 10 s (it
		// used to compile to 1 ms: the key was re-sent ~160 times a second).
		{&StrategyConfig{Type: "ON_REPORT_PERIOD"}, &Strategy{Type: OnReportPeriod, PeriodMs: 10000, TTLSec: DefaultTTLSec}, false},
		{&StrategyConfig{Type: "ON_CHANGE_OR_REPORT_PERIOD"}, &Strategy{Type: OnChangeOrReportPeriod, PeriodMs: 10000, TTLSec: DefaultTTLSec}, false},
		{&StrategyConfig{Type: "ON_CHANGE_OR_REPORT_PERIOD", ReportPeriod: f(3000), TTL: f(60)}, &Strategy{Type: OnChangeOrReportPeriod, PeriodMs: 3000, TTLSec: 60}, false},
		{&StrategyConfig{Type: "ON_RECEIVED", ReportPeriod: f(3000)}, &Strategy{Type: OnReceived, TTLSec: DefaultTTLSec}, false},
		{&StrategyConfig{ReportPeriod: f(3000)}, nil, true},
		{&StrategyConfig{Type: "SOMETIMES"}, nil, true},
		{&StrategyConfig{Type: "ON_REPORT_PERIOD", ReportPeriod: f(-1)}, nil, true},
		{&StrategyConfig{Type: "ON_CHANGE", TTL: f(0)}, nil, true},
		{&StrategyConfig{Type: "ON_CHANGE", AggregationFunction: "median"}, nil, true},
	}
	for i, c := range cases {
		got, err := c.cfg.Strategy()
		if (err != nil) != c.err || !reflect.DeepEqual(got, c.want) {
			t.Errorf("case %d: got %+v, %v; want %+v (error %v)", i, got, err, c.want, c.err)
		}
	}
}

func TestNormalize(t *testing.T) {
	if Normalize(nil) != nil {
		t.Fatal("nil")
	}
	got := Normalize(&Strategy{Type: "on_report_period"})
	if *got != (Strategy{Type: OnReportPeriod, PeriodMs: DefaultPeriodMs, TTLSec: DefaultTTLSec}) {
		t.Fatal(got)
	}
	if Normalize(&Strategy{}).Type != OnReceived {
		t.Fatal("empty type")
	}
}
