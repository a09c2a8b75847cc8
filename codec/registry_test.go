package codec

import (
	"encoding/json"
	"strings"
	"testing"
)

type nopDown struct{}

func (nopDown) Convert(req *DownlinkRequest) ([]byte, error) { return []byte(req.Method), nil }

func TestRegistry(t *testing.T) {
	RegisterDownlink("testDown", func(json.RawMessage) (Downlink, error) { return nopDown{}, nil })
	d, err := NewDownlink("testDown", nil)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := d.Convert(&DownlinkRequest{Method: "m"}); string(b) != "m" {
		t.Errorf("got %q", b)
	}
	if _, err := NewDownlink("nope", nil); err == nil || !strings.Contains(err.Error(), "testDown") {
		t.Errorf("unknown: %v", err)
	}
	if _, err := NewUplink("nope", nil); err == nil {
		t.Error("unknown uplink accepted")
	}
	defer func() {
		if recover() == nil {
			t.Error("duplicate registration did not panic")
		}
	}()
	RegisterDownlink("testDown", func(json.RawMessage) (Downlink, error) { return nopDown{}, nil })
}

func TestStrategy(t *testing.T) {
	f := func(x float64) *float64 { return &x }
	tests := []struct {
		cfg  *StrategyConfig
		want *Strategy
		err  bool
	}{
		{nil, nil, false},
		{&StrategyConfig{}, nil, false},
		{&StrategyConfig{Type: "on_change"}, &Strategy{Type: OnChange, TTLSec: DefaultTTLSec}, false},
		{&StrategyConfig{Type: "ON_REPORT_PERIOD"}, &Strategy{Type: OnReportPeriod, PeriodMs: 1, TTLSec: DefaultTTLSec}, false},
		{&StrategyConfig{Type: "ON_CHANGE_OR_REPORT_PERIOD", ReportPeriod: f(3000), TTL: f(60)}, &Strategy{Type: OnChangeOrReportPeriod, PeriodMs: 3000, TTLSec: 60}, false},
		{&StrategyConfig{Type: "ON_RECEIVED", ReportPeriod: f(3000)}, &Strategy{Type: OnReceived, TTLSec: DefaultTTLSec}, false},
		{&StrategyConfig{ReportPeriod: f(3000)}, nil, true},
		{&StrategyConfig{Type: "SOMETIMES"}, nil, true},
		{&StrategyConfig{Type: "ON_REPORT_PERIOD", ReportPeriod: f(-1)}, nil, true},
		{&StrategyConfig{Type: "ON_CHANGE", AggregationFunction: "median"}, nil, true},
	}
	for _, tc := range tests {
		got, err := tc.cfg.Strategy()
		if (err != nil) != tc.err || (got == nil) != (tc.want == nil) || (got != nil && *got != *tc.want) {
			t.Errorf("%+v: got %+v, %v; want %+v", tc.cfg, got, err, tc.want)
		}
	}
}
