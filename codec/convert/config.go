package convert

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/tbgw/tbgw/codec"
)

// DeviceInfo is the upstream "deviceInfo" block: where the device name
// and profile (type) come from.
type DeviceInfo struct {
	DeviceNameExpressionSource    string `json:"deviceNameExpressionSource"`
	DeviceNameExpression          string `json:"deviceNameExpression"`
	DeviceProfileExpressionSource string `json:"deviceProfileExpressionSource"`
	DeviceProfileExpression       string `json:"deviceProfileExpression"`
}

// Datapoint is one entry of an "attributes" or "timeseries" list.
type Datapoint struct {
	Type           string                `json:"type"`
	Key            string                `json:"key"`
	Value          string                `json:"value"`
	KeySource      string                `json:"keySource"` // "message" (default) or "topic"
	TSField        string                `json:"tsField"`
	DayFirst       bool                  `json:"dayfirst"`
	YearFirst      bool                  `json:"yearfirst"`
	HexMode        bool                  `json:"hexMode"` // bytes converter
	ReportStrategy *codec.StrategyConfig `json:"reportStrategy"`
}

// Datapoints is an "attributes"/"timeseries" value: a list of datapoints,
// or the string "*" meaning every top-level key of the payload.
type Datapoints struct {
	All  bool
	List []Datapoint
}

// UnmarshalJSON accepts "*", a list, or null.
func (d *Datapoints) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		if s != "*" {
			return fmt.Errorf(`want "*" or a list of datapoints, got %q`, s)
		}
		d.All, d.List = true, nil
		return nil
	}
	d.All = false
	return json.Unmarshal(b, &d.List)
}

// MarshalJSON writes "*" or the list.
func (d Datapoints) MarshalJSON() ([]byte, error) {
	if d.All {
		return []byte(`"*"`), nil
	}
	return json.Marshal(d.List)
}

// Config is an upstream uplink "converter" block of the JSON and bytes
// kinds (MQTT, REST, Request, XMPP, OCPP, ...), new and legacy keys.
type Config struct {
	Type       string      `json:"type"` // json, bytes, custom
	DeviceInfo *DeviceInfo `json:"deviceInfo"`

	// Legacy device naming keys.
	DeviceNameJSONExpression  string `json:"deviceNameJsonExpression"`
	DeviceTypeJSONExpression  string `json:"deviceTypeJsonExpression"`
	DeviceNameTopicExpression string `json:"deviceNameTopicExpression"`
	DeviceTypeTopicExpression string `json:"deviceTypeTopicExpression"`
	DeviceNameExpression      string `json:"deviceNameExpression"`
	DeviceTypeExpression      string `json:"deviceTypeExpression"`

	Attributes Datapoints `json:"attributes"`
	Timeseries Datapoints `json:"timeseries"`
	// Telemetry is the Request connector's name for Timeseries; both are
	// used when both are given.
	Telemetry Datapoints `json:"telemetry"`

	UseReceivedTS  bool                  `json:"useReceivedTs"`
	UseEval        bool                  `json:"useEval"`
	ReportStrategy *codec.StrategyConfig `json:"reportStrategy"`

	// Custom converters.
	Extension             string          `json:"extension"`
	ExtensionConfig       json.RawMessage `json:"extensionConfig"`
	LegacyExtensionConfig json.RawMessage `json:"extension-config"`
	Cached                bool            `json:"cached"`
	SharedGlobal          bool            `json:"sharedGlobal"`
	SharedID              string          `json:"sharedId"`

	// Present in upstream samples, ignored.
	SendDataOnlyOnChange *bool  `json:"sendDataOnlyOnChange"`
	Timeout              *int64 `json:"timeout"`
}

// Error is a configuration problem of one key of a converter block. Path
// is relative to the block, e.g. "timeseries[2].value"; a caller holding
// a conf.Doc reports it with doc.Errorf(prefix+e.Path, "%s", e.Msg).
type Error struct {
	Path string
	Msg  string
}

func (e *Error) Error() string { return e.Path + ": " + e.Msg }

func errf(path, format string, args ...any) error {
	return &Error{Path: path, Msg: fmt.Sprintf(format, args...)}
}
