package ocpp

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/tbgw/tbgw/codec"
	"github.com/tbgw/tbgw/codec/conf"
	"github.com/tbgw/tbgw/codec/ocpp"
)

// A charge point entry's "extension" other than upstream's default
// OcppUplinkConverter names a custom uplink converter: a Go converter
// registered under that name taking "ocpp" calls, else an upstream-style
// Python class run in the extension host (docs/connectors/exec.md). As
// upstream's OCPP connector, tbgw constructs it with the entry plus
// "uplink_converter_name", names the device with its get_device_name and
// get_device_type over the boot profile, and calls convert(config, data)
// for BootNotification, MeterValues and DataTransfer: config is
// {deviceName, deviceType, messageType, profile}, data the payload with
// snake_case member names (the Python ocpp library's keyword arguments).

// defaultConverter is upstream's built-in converter, which tbgw's own
// conversion is.
const defaultConverter = "OcppUplinkConverter"

// customConv is a charge point entry's custom converter.
type customConv struct {
	name  string
	conv  codec.CallUplink
	names codec.CallDownlink // get_device_name/get_device_type; nil: the expressions
}

// pyActions are the messages upstream's charge point hands its converter.
var pyActions = map[string]bool{"BootNotification": true, "MeterValues": true, "DataTransfer": true}

// customConverter loads the converter class of chargePoints[i]. When
// nothing provides it (no Go converter, no Python extension host) it
// returns a warning and no converter: the built-in conversion is used, as
// in the other connectors.
func customConverter(doc *conf.Doc, path, name string, i int) (*customConv, string, error) {
	var raw struct {
		ChargePoints []map[string]json.RawMessage `json:"chargePoints"`
	}
	if err := json.Unmarshal(doc.Raw(), &raw); err != nil || i >= len(raw.ChargePoints) {
		return nil, "", doc.Errorf(path, "cannot read the charge point's configuration for its converter")
	}
	cp := raw.ChargePoints[i]
	cp["uplink_converter_name"], _ = json.Marshal(name)
	cfg, err := json.Marshal(cp)
	if err != nil {
		return nil, "", err
	}
	conv, err := codec.NewCallUplink("ocpp", name, cfg)
	if errors.Is(err, codec.ErrNoResolver) {
		return nil, doc.Errorf(path+".extension", "converter %q is not compiled in and no Python extension host is installed; the built-in conversion is used", name).Error(), nil
	}
	if err != nil {
		return nil, "", doc.Errorf(path+".extension", "%v", err)
	}
	cc := &customConv{name: name, conv: conv}
	cc.names, _ = conv.(codec.CallDownlink)
	return cc, "", nil
}

// deviceNames asks the converter for the device name and type of a boot
// profile; "" for what it did not give (the expressions are used then).
func (cc *customConv) deviceNames(prof map[string]any) (name, typ string, err error) {
	if cc.names == nil {
		return "", "", nil
	}
	ask := func(method string) (string, error) {
		args, err := json.Marshal(map[string]any{"method": method, "data": prof})
		if err != nil {
			return "", err
		}
		res, err := cc.names.ConvertDownCall(args)
		if err != nil {
			return "", err
		}
		var s *string
		if json.Unmarshal(res, &s) != nil || s == nil {
			return "", nil // None, or not a string: not named by the class
		}
		return strings.TrimSpace(*s), nil
	}
	if name, err = ask("get_device_name"); err != nil {
		return "", "", err
	}
	typ, err = ask("get_device_type")
	return name, typ, err
}

// pyArgs are the arguments of convert for a message: config as upstream's
// charge point builds it and data as the ocpp library hands the payload to
// its handler (snake_case names; DataTransfer's top-level strings decoded
// when they are JSON; BootNotification's vendor and model as Vendor and
// Model).
func pyArgs(action, name, typ string, prof map[string]any, payload []byte) (json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	var x any
	if err := dec.Decode(&x); err != nil {
		return nil, err
	}
	data, ok := snakeOnly(x).(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%s payload is not an object", action)
	}
	switch action {
	case "DataTransfer":
		for k, v := range data {
			if s, ok := v.(string); ok {
				d := json.NewDecoder(strings.NewReader(s))
				d.UseNumber()
				var y any
				if d.Decode(&y) == nil && !d.More() {
					data[k] = y
				}
			}
		}
	case "BootNotification":
		// 1.6: the named parameters become Vendor and Model; 2.0.1 has
		// them in charging_station.
		data["Vendor"], data["Model"] = prof["Vendor"], prof["Model"]
		delete(data, "charge_point_vendor")
		delete(data, "charge_point_model")
	}
	var nameV, typV any
	if name != "" {
		nameV, typV = name, typ
	}
	if prof == nil {
		prof = map[string]any{}
	}
	return json.Marshal(map[string]any{
		"config": map[string]any{"deviceName": nameV, "deviceType": typV, "messageType": action, "profile": prof},
		"data":   data,
	})
}

// snakeOnly renames every object member to its snake_case name, at every
// depth, as the Python ocpp library does before calling a handler.
func snakeOnly(x any) any {
	switch v := x.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			out[ocpp.Snake(k)] = snakeOnly(e)
		}
		return out
	case []any:
		for i, e := range v {
			v[i] = snakeOnly(e)
		}
		return v
	}
	return x
}
