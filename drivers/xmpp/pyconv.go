package xmpp

import (
	"encoding/json"
	"errors"

	"github.com/tbgw/tbgw/codec"
	"github.com/tbgw/tbgw/codec/conf"
)

// A device's "converter" other than upstream's default XmppUplinkConverter
// names a custom uplink converter: a Go converter registered under that
// name taking "xmpp" calls, else an upstream-style Python class run in the
// extension host (docs/connectors/exec.md). As upstream's XMPP connector,
// tbgw constructs it with the device's configuration without "converter"
// and calls convert(device, body) for each message from the device's JID,
// device an object with the configuration's keys as attributes (jid,
// device_name_expression, device_type_expression, attributes, timeseries,
// attribute_updates, server_side_rpc).

// defaultConverter is upstream's built-in converter, which tbgw's JSON
// conversion is.
const defaultConverter = "XmppUplinkConverter"

// customConverter loads the converter class of devices[i]. When nothing
// provides it (no Go converter, no Python extension host) it warns and
// returns none: the built-in JSON conversion is used, as in the other
// connectors.
func customConverter(doc *conf.Doc, path string, name string, i int, warn func(string)) (codec.CallUplink, json.RawMessage, error) {
	var raw struct {
		Devices []map[string]json.RawMessage `json:"devices"`
	}
	if err := json.Unmarshal(doc.Raw(), &raw); err != nil || i >= len(raw.Devices) {
		return nil, nil, doc.Errorf(path, "cannot read the device's configuration for its converter")
	}
	dev := raw.Devices[i]
	delete(dev, "converter") // upstream pops it before constructing the class
	cfg, err := json.Marshal(dev)
	if err != nil {
		return nil, nil, err
	}
	conv, err := codec.NewCallUplink("xmpp", name, cfg)
	if errors.Is(err, codec.ErrNoResolver) {
		warn(doc.Errorf(path+".converter", "converter %q is not compiled in and no Python extension host is installed; the built-in JSON conversion is used", name).Error())
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, doc.Errorf(path+".converter", "%v", err)
	}
	return conv, cfg, nil
}

// pyArgs are the arguments of a custom converter's call for body.
func (d *device) pyArgs(body string) (json.RawMessage, error) {
	return json.Marshal(map[string]any{"device": d.pyCfg, "data": body})
}
