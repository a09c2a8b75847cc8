package codec

import "github.com/tbgw/tbgw/codec/model"

// Report strategy names and defaults, from codec/model.
const (
	OnReceived             = model.OnReceived
	OnChange               = model.OnChange
	OnReportPeriod         = model.OnReportPeriod
	OnChangeOrReportPeriod = model.OnChangeOrReportPeriod
	Disabled               = model.Disabled
	DefaultTTLSec          = model.DefaultTTLSec
	DefaultPeriodMs        = model.DefaultPeriodMs
)

// StrategyConfig is the upstream "reportStrategy" block.
type StrategyConfig = model.StrategyConfig
