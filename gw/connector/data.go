package connector

// Strategy is a report strategy (upstream "reportStrategy" block) attached to
// a datapoint. Type is one of ON_RECEIVED, ON_CHANGE, ON_REPORT_PERIOD,
// ON_CHANGE_OR_REPORT_PERIOD or DISABLED, upper case. A nil *Strategy on a
// Point means "inherit": the connector-level, then the global strategy apply.
//
// Keep identical to codec.Strategy.
type Strategy = struct {
	Type     string
	PeriodMs int64
	TTLSec   int64
}

// Point is one datapoint. Value is never nil and is one of int64, float64,
// bool, string or json.RawMessage (an object or array, already JSON). TS is
// the telemetry timestamp in Unix milliseconds; 0 means "stamp on receipt",
// which the gateway does uniquely per device. Attributes carry no TS.
//
// Keep identical to codec.Point.
type Point = struct {
	Key    string
	Value  any
	TS     int64
	Report *Strategy
}

// Data is what an uplink converter produces for one device: its name, its
// type (device profile; "" means "default"), attributes and telemetry.
//
// Keep identical to codec.Data.
type Data = struct {
	Device     string
	Type       string
	Attributes []Point
	Telemetry  []Point
}
