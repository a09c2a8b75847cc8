package codec

import (
	"fmt"
	"strings"
)

// Report strategy type names (Strategy.Type).
const (
	OnReceived             = "ON_RECEIVED"
	OnChange               = "ON_CHANGE"
	OnReportPeriod         = "ON_REPORT_PERIOD"
	OnChangeOrReportPeriod = "ON_CHANGE_OR_REPORT_PERIOD"
	Disabled               = "DISABLED"
)

// DefaultTTLSec is the strategy cache lifetime when "ttl" is absent.
const DefaultTTLSec = 86400

// StrategyConfig is the upstream "reportStrategy" block as written in a
// datapoint, device, mapping or connector configuration.
type StrategyConfig struct {
	Type                string   `json:"type"`
	ReportPeriod        *float64 `json:"reportPeriod"` // ms
	TTL                 *float64 `json:"ttl"`          // s
	AggregationFunction string   `json:"aggregationFunction"`
}

// Strategy compiles a datapoint/device/connector-level block: nil with no
// error when the block is absent or has neither type nor reportPeriod
// (upstream ignores it then). A periodic type without reportPeriod gets
// 1 ms, as upstream. Unknown types and aggregation functions are errors.
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
		s.TTLSec = int64(*c.TTL)
	}
	if t == OnReportPeriod || t == OnChangeOrReportPeriod {
		s.PeriodMs = 1
		if c.ReportPeriod != nil {
			if *c.ReportPeriod <= 0 {
				return nil, fmt.Errorf("reportStrategy: reportPeriod must be positive")
			}
			s.PeriodMs = max(int64(*c.ReportPeriod), 1)
		}
	}
	return s, nil
}
