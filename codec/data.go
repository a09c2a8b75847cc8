package codec

// The uplink data model. These are aliases of plain struct types, declared
// identically in gw/connector, so that converter output flows to the gateway
// without a copy and without either package importing the other. A compile
// check in package gw asserts that the two stay identical.

// Strategy is a per-datapoint report strategy; nil on a Point means inherit.
type Strategy = struct {
	Type     string
	PeriodMs int64
	TTLSec   int64
}

// Point is one datapoint: Value is int64, float64, bool, string or
// json.RawMessage; TS is Unix ms, 0 for "stamp on receipt".
type Point = struct {
	Key    string
	Value  any
	TS     int64
	Report *Strategy
}

// Data is the converted data of one device.
type Data = struct {
	Device     string
	Type       string
	Attributes []Point
	Telemetry  []Point
}
