package can

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/tbgw/tbgw/codec"
	"github.com/tbgw/tbgw/codec/canval"
	"github.com/tbgw/tbgw/codec/conf"
)

// A device's "converters": {"uplink": "<Class>", "downlink": "<Class>"}
// names upstream-style converter classes. A Go converter registered under
// the name is used first (uplink: one that takes "can" calls); otherwise
// the class runs in the Python extension host, called as upstream's CAN
// connector calls it (docs/connectors/can.md):
//
//	uplink   convert({"deviceName", "deviceType", "sendOnChange", "configs": [item]}, <frame data>)
//	downlink convert(<attributeUpdates/serverSideRpc entry>, {"value": v} | <RPC params>) -> bytes
//
// Each item of "configs" is the item as configured plus what upstream's
// connector adds: start, length, byteorder, type, signed or encoding,
// strictEval and is_ts.

// pyRawDevice is a device's items as written, for the converter's configs.
type pyRawDevice struct {
	Attributes       []map[string]any `json:"attributes"`
	Timeseries       []map[string]any `json:"timeseries"`
	Telemetry        []map[string]any `json:"telemetry"`
	AttributeUpdates []map[string]any `json:"attributeUpdates"`
	ServerSideRPC    []map[string]any `json:"serverSideRpc"`
}

// converters loads the device's converter classes. One that nothing
// provides (no Go converter, no Python extension host) is warned about
// and the built-in bytes converter is used, as in the other connectors.
func converters(doc *conf.Doc, path string, c *Converters, dev *device, log *slog.Logger) error {
	if c == nil {
		return nil
	}
	missing := func(key, name string) {
		log.Warn(doc.Errorf(path+".converters."+key, "converter %q is not compiled in and no Python extension host is installed; the built-in bytes converter is used", name).Error(), "device", dev.name)
	}
	var err error
	if c.Uplink != "" {
		dev.pyUp, err = codec.NewCallUplink("can", c.Uplink, json.RawMessage("null"))
		if errors.Is(err, codec.ErrNoResolver) {
			missing("uplink", c.Uplink)
		} else if err != nil {
			return doc.Errorf(path+".converters.uplink", "%v", err)
		}
	}
	if c.Downlink != "" {
		dev.pyDown, err = codec.NewCallDownlink("can-downlink", c.Downlink, json.RawMessage("null"))
		if errors.Is(err, codec.ErrNoResolver) {
			missing("downlink", c.Downlink)
		} else if err != nil {
			return doc.Errorf(path+".converters.downlink", "%v", err)
		}
	}
	return nil
}

// pyItemConfig is an item's entry in the uplink converter's "configs", as
// upstream's connector prepares it.
func pyItemConfig(raw map[string]any, it *Item, v canval.Value, strict, telemetry bool) map[string]any {
	m := make(map[string]any, len(raw)+8)
	for k, x := range raw {
		m[k] = x
	}
	order := "big"
	if v.Little {
		order = "little"
	}
	typ := ""
	var s string
	if json.Unmarshal(it.Value, &s) == nil {
		parts := strings.Split(s, ":")
		for i := 2; i < len(parts); i++ {
			switch p := strings.ToLower(parts[i]); p {
			case "bool", "boolean", "int", "long", "float", "double", "string", "raw":
				typ = p
			}
			if typ != "" {
				break
			}
		}
	} else {
		var c canval.ValueConfig
		_ = json.Unmarshal(it.Value, &c)
		typ = strings.ToLower(c.Type)
	}
	m["start"], m["length"], m["byteorder"], m["type"] = v.Start, v.Length, order, typ
	switch {
	case strings.HasPrefix(typ, "i") || strings.HasPrefix(typ, "l"):
		m["signed"] = v.Signed
	case strings.HasPrefix(typ, "s") || strings.HasPrefix(typ, "r"):
		enc := v.Encoding
		if enc == "" {
			enc = "ascii"
		}
		m["encoding"] = enc
	}
	m["strictEval"], m["is_ts"] = strict, telemetry
	return m
}

// pyConvert hands one frame's data and the items of dev it matched to the
// device's uplink converter.
func (v *converter) pyConvert(dev *device, items []*item, payload []byte, nowMs int64) {
	configs := make([]map[string]any, len(items))
	for i, it := range items {
		configs[i] = it.py
	}
	args, err := json.Marshal(map[string]any{
		"config": map[string]any{"deviceName": dev.name, "deviceType": dev.typ, "sendOnChange": dev.onlyOnChange, "configs": configs},
		"data":   base64.StdEncoding.EncodeToString(payload),
	})
	var out []codec.Data
	if err == nil {
		out, err = dev.pyUp.ConvertCall(args, nowMs)
	}
	if err != nil {
		v.c.stats.Add("decodeErrors", 1)
		if !v.pyWarned[dev] {
			v.pyWarned[dev] = true
			v.c.log.Warn("uplink converter failed, frame dropped (logged once per device)", "device", dev.name, "err", err)
		}
		return
	}
	v.out = append(v.out, out...)
}

// pyPayload runs the device's downlink converter on cfg (the entry, as
// upstream's connector passes it) and data, and returns the frame data.
func pyPayload(dev *device, cfg map[string]any, data any) ([]byte, error) {
	args, err := json.Marshal(map[string]any{"config": cfg, "data": data})
	if err != nil {
		return nil, err
	}
	raw, err := dev.pyDown.ConvertDownCall(args)
	if err != nil {
		return nil, err
	}
	b, err := pyBytes(raw)
	if err != nil {
		return nil, fmt.Errorf("downlink converter result: %w", err)
	}
	return b, nil
}

// pyBytes reads a downlink converter's result: bytes (as {"bytes":
// base64}), a list of byte values, or a list mixing both.
func pyBytes(raw json.RawMessage) ([]byte, error) {
	if t := strings.TrimSpace(string(raw)); t == "" || t == "null" {
		return nil, errors.New("data conversion failure (the converter returned None)")
	}
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		items = []json.RawMessage{raw}
	}
	var out []byte
	for _, it := range items {
		var n float64
		if b, ok := codec.ResultBytes(it); ok {
			out = append(out, b...)
			continue
		}
		switch {
		case json.Unmarshal(it, &n) == nil && n >= 0 && n <= 255 && n == float64(int(n)):
			out = append(out, byte(n))
		default:
			return nil, fmt.Errorf("want bytes or a list of byte values (0 to 255), got %s", it)
		}
	}
	return out, nil
}

// pyEntryConfig is an attributeUpdates/serverSideRpc entry as upstream's
// converter sees it: as written, with the device's strictEval.
func pyEntryConfig(raw map[string]any, strict bool) map[string]any {
	m := make(map[string]any, len(raw)+1)
	for k, x := range raw {
		m[k] = x
	}
	m["strictEval"] = strict
	return m
}

// pyMerge is upstream's conversion configuration of an RPC with
// overrideRpcConfig: the keys of a CAN frame and its data, each from the
// params, else from the entry, else upstream's default; the keys without a
// default (dataExpression, dataBefore, dataAfter, dataInHex) only from the
// params.
func pyMerge(entry map[string]any, params any) map[string]any {
	p, _ := params.(map[string]any)
	m := map[string]any{}
	for _, o := range []struct {
		key string
		def any
	}{{"nodeId", -1}, {"isExtendedId", false}, {"isFd", false}, {"bitrateSwitch", false}, {"response", true},
		{"dataLength", 1}, {"dataByteorder", "big"}, {"dataSigned", false}, {"dataExpression", nil},
		{"dataEncoding", "ascii"}, {"dataBefore", nil}, {"dataAfter", nil}, {"dataInHex", nil}} {
		if x, ok := p[o.key]; ok {
			m[o.key] = x
		} else if o.def != nil {
			if x, ok := entry[o.key]; ok {
				m[o.key] = x
			} else {
				m[o.key] = o.def
			}
		}
	}
	return m
}
