// Package model is the one declaration of tbgw's uplink data model and of
// report strategies: what a converter produces, what a connector hands to
// the gateway, and how each datapoint is reported. Package codec and the
// connector contract (gw/connector) both alias these types, so converter
// output reaches the gateway without a copy and neither of them imports
// the other.
//
// It imports nothing but the standard library and must stay that way.
package model

// Strategy is a per-datapoint report strategy (upstream "reportStrategy").
// Type is one of the strategy constants, upper case. A nil *Strategy on a
// Point means "inherit": the device's, the connector's, then the gateway's
// strategy apply.
type Strategy struct {
	Type     string
	PeriodMs int64 // for the periodic types; DefaultPeriodMs when unset
	TTLSec   int64 // state lifetime; DefaultTTLSec when unset
}

// Point is one datapoint. Value is never nil and is one of int64, float64,
// bool, string or json.RawMessage (an object or array, already JSON). TS
// is the telemetry timestamp in Unix milliseconds; 0 means "stamp on
// receipt", which the gateway does uniquely per device. Attributes carry
// no TS.
type Point struct {
	Key    string
	Value  any
	TS     int64
	Report *Strategy
}

// Data is what an uplink converter produces for one device: its name, its
// type (device profile; "" means "default"), attributes and telemetry.
type Data struct {
	Device     string
	Type       string
	Attributes []Point
	Telemetry  []Point
}
