package ftp

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/tbgw/tbgw/codec"
)

// customConv is a path's custom converter, {"type": "custom", "extension":
// "<Class>", "extension-config": {...}}, called in the "ftp" convention of
// codec.NewCallUplink (docs/connectors/exec.md): constructed with the
// path's configuration as upstream's Path.config, and called per line of a
// CSV/TXT file (per object of a JSON file) with args {"config":
// {"file_ext", "headers"}, "data": line or object}.
type customConv struct {
	name string
	call codec.CallUplink
}

// ftpCall is the JSON of one "ftp" call.
type ftpCall struct {
	Config ftpCallConfig `json:"config"`
	Data   any           `json:"data"`
}

type ftpCallConfig struct {
	FileExt string   `json:"file_ext"`
	Headers []string `json:"headers,omitempty"`
}

type converterConfig struct {
	Type      string          `json:"type"`
	Extension string          `json:"extension"`
	Config    json.RawMessage `json:"extension-config"`
	Config2   json.RawMessage `json:"extensionConfig"`
}

func compileConverter(pc *pathConfig, rs *rowSpec) (*customConv, error) {
	var cc converterConfig
	if err := json.Unmarshal(pc.Converter, &cc); err != nil {
		return nil, fmt.Errorf(`want {"type": "custom", "extension": "<Class>", "extension-config": {...}}: %v`, err)
	}
	if !strings.EqualFold(cc.Type, "custom") {
		return nil, fmt.Errorf(`type %q: only "custom" converters can be named here`, cc.Type)
	}
	name := strings.TrimSpace(cc.Extension)
	if name == "" {
		return nil, fmt.Errorf("extension (the converter's class name) is required")
	}
	cfg := cc.Config
	if len(bytes.TrimSpace(cfg)) == 0 || string(cfg) == "null" {
		cfg = cc.Config2
	}
	// Upstream builds the converter with the path's settings, the device
	// pattern and datapoints taken from extension-config.
	var ext map[string]any
	if len(bytes.TrimSpace(cfg)) > 0 && string(cfg) != "null" {
		if err := json.Unmarshal(cfg, &ext); err != nil {
			return nil, fmt.Errorf("extension-config: %v", err)
		}
	}
	get := func(key string, def any) any {
		if v, ok := ext[key]; ok {
			return v
		}
		return def
	}
	devType := any("Device")
	if pc.DevicePatternType != nil {
		devType = *pc.DevicePatternType
	}
	view := "TABLE"
	if rs.sliced {
		view = "SLICED"
	}
	init := map[string]any{
		"delimiter":          rs.delim,
		"devicePatternName":  get("devicePatternName", pc.DevicePatternName),
		"devicePatternType":  get("devicePatternType", devType),
		"timeseries":         get("timeseries", nil),
		"attributes":         get("attributes", nil),
		"txt_file_data_view": view,
		"reportStrategy":     pc.ReportStrategy,
		"extensionConfig":    ext, // for Go converters (tbgw's addition)
	}
	b, err := json.Marshal(init)
	if err != nil {
		return nil, err
	}
	cu, err := codec.NewCallUplink("ftp", name, b)
	if err != nil {
		return nil, err
	}
	return &customConv{name: name, call: cu}, nil
}

// line converts one line of a CSV or TXT file; hdr is the header (TABLE
// view) or nil.
func (c *customConv) line(kind string, hdr *header, line string) ([]codec.Data, error) {
	a := ftpCall{Config: ftpCallConfig{FileExt: kind}, Data: line}
	if hdr != nil {
		a.Config.Headers = hdr.names
	}
	return c.convert(&a)
}

func (c *customConv) convert(a *ftpCall) ([]codec.Data, error) {
	b, err := json.Marshal(a)
	if err != nil {
		return nil, err
	}
	return c.call.ConvertCall(b, time.Now().UnixMilli())
}

// json converts a JSON file: each element of an array, or the one value.
func (c *customConv) json(b []byte) ([]codec.Data, error) {
	var items []json.RawMessage
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '[' {
		if err := json.Unmarshal(b, &items); err != nil {
			return nil, err
		}
	} else {
		if !json.Valid(b) {
			return nil, fmt.Errorf("not JSON")
		}
		items = []json.RawMessage{b}
	}
	var out []codec.Data
	var firstErr error
	for _, it := range items {
		ds, err := c.convert(&ftpCall{Config: ftpCallConfig{FileExt: "json"}, Data: it})
		if err != nil {
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		out = append(out, ds...)
	}
	if len(out) == 0 && firstErr != nil {
		return nil, firstErr
	}
	return out, nil
}
