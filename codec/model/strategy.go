package model

import (
	"fmt"
	"strings"
)

// Report strategy types (Strategy.Type).
const (
	OnReceived             = "ON_RECEIVED"
	OnChange               = "ON_CHANGE"
	OnReportPeriod         = "ON_REPORT_PERIOD"
	OnChangeOrReportPeriod = "ON_CHANGE_OR_REPORT_PERIOD"
	Disabled               = "DISABLED"
)

// Defaults of a strategy block that leaves keys out.
const (
	DefaultPeriodMs = 10000 // reportPeriod of a periodic type
	DefaultTTLSec   = 86400 // ttl
)

// StrategyConfig is the upstream "reportStrategy" block as written in a
// datapoint, device, mapping, connector or gateway configuration.
type StrategyConfig struct {
	Type                string   `json:"type"`
	ReportPeriod        *float64 `json:"reportPeriod"` // ms
	TTL                 *float64 `json:"ttl"`          // s
	AggregationFunction string   `json:"aggregationFunction"`
}

// Strategy compiles the block: nil with no error when it is absent or has
// neither type nor reportPeriod (upstream ignores it then). A periodic
// type without reportPeriod reports every DefaultPeriodMs. Unknown types
// and aggregation functions are errors.
func (c *StrategyConfig) Strategy() (*Strategy, error) {
	if c == nil || (c.Type == "" && c.ReportPeriod == nil) {
		return nil, nil
	}
	t := strings.ToUpper(strings.TrimSpace(c.Type))
	switch t {
	case OnReceived, OnChange, OnReportPeriod, OnChangeOrReportPeriod, Disabled:
	case "":
		return nil, fmt.Errorf("reportStrategy: type is required")
	default:
		return nil, fmt.Errorf("reportStrategy: unknown type %q", c.Type)
	}
	switch strings.ToUpper(c.AggregationFunction) {
	case "", "NONE", "SUM", "COUNT", "MIN", "MAX", "AVERAGE":
	default:
		return nil, fmt.Errorf("reportStrategy: unknown aggregationFunction %q", c.AggregationFunction)
	}
	s := &Strategy{Type: t, TTLSec: DefaultTTLSec}
	if c.TTL != nil {
		if *c.TTL <= 0 {
			return nil, fmt.Errorf("reportStrategy: ttl must be positive")
		}
		s.TTLSec = int64(*c.TTL)
	}
	if t == OnReportPeriod || t == OnChangeOrReportPeriod {
		s.PeriodMs = DefaultPeriodMs
		if c.ReportPeriod != nil {
			if *c.ReportPeriod <= 0 {
				return nil, fmt.Errorf("reportStrategy: reportPeriod must be positive")
			}
			s.PeriodMs = max(int64(*c.ReportPeriod), 1)
		}
	}
	return s, nil
}

// Normalize upper-cases the type and fills the default period and ttl.
// A nil strategy stays nil; an empty type means ON_RECEIVED.
func Normalize(s *Strategy) *Strategy {
	if s == nil {
		return nil
	}
	n := *s
	n.Type = strings.ToUpper(n.Type)
	if n.Type == "" {
		n.Type = OnReceived
	}
	if n.PeriodMs <= 0 {
		n.PeriodMs = DefaultPeriodMs
	}
	if n.TTLSec <= 0 {
		n.TTLSec = DefaultTTLSec
	}
	return &n
}
