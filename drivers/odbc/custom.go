package odbc

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/tbgw/tbgw/codec"
)

// customConv is upstream's "converter": a custom converter named by class
// that turns each row into device data instead of the mapping's
// attributes and timeseries. It is called in the "odbc" convention of
// codec.NewCallUplink (docs/connectors/exec.md): args {"config": the
// "mapping" block, "data": the row as {column: value}, "device",
// "deviceType"}; as upstream, the device name and type come from
// mapping.device whatever the converter says.
type customConv struct {
	name    string
	call    codec.CallUplink
	mapping json.RawMessage
}

// odbcCall is the JSON of one "odbc" call.
type odbcCall struct {
	Config     json.RawMessage `json:"config"`
	Data       map[string]any  `json:"data"`
	Device     string          `json:"device"`
	DeviceType string          `json:"deviceType"`
}

// parseConverter reads "converter": "<Class>" (upstream's form) or a
// converter block {"type": "custom", "extension": "<Class>",
// "extensionConfig": {...}}.
func parseConverter(raw json.RawMessage) (name string, cfg json.RawMessage, err error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" || string(raw) == `""` {
		return "", nil, nil
	}
	if json.Unmarshal(raw, &name) == nil {
		return strings.TrimSpace(name), nil, nil
	}
	var b struct {
		Type      string          `json:"type"`
		Extension string          `json:"extension"`
		Config    json.RawMessage `json:"extensionConfig"`
		Config2   json.RawMessage `json:"extension-config"`
	}
	if err := json.Unmarshal(raw, &b); err != nil {
		return "", nil, fmt.Errorf("want a class name or {\"type\": \"custom\", \"extension\": ...}: %v", err)
	}
	if b.Type != "" && !strings.EqualFold(b.Type, "custom") {
		return "", nil, fmt.Errorf("type %q: only custom converters can be named here", b.Type)
	}
	if strings.TrimSpace(b.Extension) == "" {
		return "", nil, fmt.Errorf("extension (the converter's class name) is required")
	}
	cfg = b.Config
	if len(cfg) == 0 {
		cfg = b.Config2
	}
	return strings.TrimSpace(b.Extension), cfg, nil
}

func newCustomConv(name string, cfg, mapping json.RawMessage) (*customConv, error) {
	cu, err := codec.NewCallUplink("odbc", name, cfg)
	if err != nil {
		return nil, err
	}
	if len(bytes.TrimSpace(mapping)) == 0 {
		mapping = json.RawMessage("{}")
	}
	return &customConv{name: name, call: cu, mapping: mapping}, nil
}

// convertCustom names the row's device with the mapping, hands the row to
// the converter and stamps telemetry without a time with the row's ts.
func (c *columns) convertCustom(cv *customConv, raw []any) ([]codec.Data, error) {
	vals, row, err := c.values(raw)
	if err != nil {
		return nil, err
	}
	dev, typ, _, err := c.device(row)
	if err != nil {
		return nil, err
	}
	m := make(map[string]any, len(c.names))
	for i, n := range c.names {
		if _, dup := m[n]; !dup {
			m[n] = vals[i]
		}
	}
	args, err := json.Marshal(odbcCall{Config: cv.mapping, Data: m, Device: dev, DeviceType: typ})
	if err != nil {
		return nil, err
	}
	out, err := cv.call.ConvertCall(args, time.Now().UnixMilli())
	if err != nil {
		return nil, fmt.Errorf("device %q: converter %s: %w", dev, cv.name, err)
	}
	for i := range out {
		out[i].Device, out[i].Type = dev, typ
	}
	var ts int64
	if c.tsCol >= 0 {
		ts = rowTS(raw[c.tsCol])
	}
	for i := range out {
		for j := range out[i].Telemetry {
			if out[i].Telemetry[j].TS == 0 {
				out[i].Telemetry[j].TS = ts
			}
		}
	}
	return out, nil
}
