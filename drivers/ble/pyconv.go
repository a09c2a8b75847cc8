package ble

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/tbgw/tbgw/codec"
	"github.com/tbgw/tbgw/codec/conf"
	"github.com/tbgw/tbgw/gw/connector"
)

// A device's "extension" other than upstream's BytesBLEUplinkConverter and
// HexBytesBLEUplinkConverter names a custom uplink converter: a Go
// converter registered under that name taking "ble" calls, else an
// upstream-style Python class run in the extension host
// (docs/connectors/exec.md). As upstream's BLE connector, tbgw constructs
// it with {deviceName, deviceType, reportStrategy} and calls
// convert(config, data): config the section (characteristic or
// advertisement) with its "telemetry" and "attributes" item
// configurations, data for characteristics {"telemetry": [item + "data"],
// "attributes": [...]} with the bytes read or notified, for advertisements
// the first manufacturer data value (company id removed).

// customConv is a device's converter class and the configurations it is
// called with.
type customConv struct {
	name  string
	conv  codec.CallUplink
	char  map[string]any    // the characteristic section: extension, telemetry, attributes
	adv   map[string]any    // the advertisement section
	raw   []json.RawMessage // item configurations as configured, telemetry then attributes
	items map[*item]json.RawMessage
}

// customConverter loads the converter class of device i (configuration
// path p, "devices[i]"). When nothing provides it (no Go converter, no
// Python extension host) it warns through the returned text and returns
// none: the built-in bytes conversion is used, as upstream's default.
func customConverter(doc *conf.Doc, p string, i int, c *DeviceConfig) (*customConv, string, error) {
	var raw struct {
		Devices []struct {
			Telemetry  []json.RawMessage `json:"telemetry"`
			Attributes []json.RawMessage `json:"attributes"`
		} `json:"devices"`
	}
	if err := json.Unmarshal(doc.Raw(), &raw); err != nil || i >= len(raw.Devices) {
		return nil, "", doc.Errorf(p, "cannot read the device's configuration for its converter")
	}
	typ := c.DeviceType
	if typ == "" {
		typ = "default"
	}
	var report any
	if c.ReportStrategy != nil {
		report = c.ReportStrategy
	}
	cfg, err := json.Marshal(map[string]any{"deviceName": c.Name, "deviceType": typ, "reportStrategy": report})
	if err != nil {
		return nil, "", err
	}
	conv, err := codec.NewCallUplink("ble", c.Extension, cfg)
	if errors.Is(err, codec.ErrNoResolver) {
		return nil, doc.Errorf(p+".extension", "converter %q is not compiled in and no Python extension host is installed; the built-in bytes conversion is used", c.Extension).Error(), nil
	}
	if err != nil {
		return nil, "", doc.Errorf(p+".extension", "%v", err)
	}
	cc := &customConv{name: c.Extension, conv: conv}
	section := func(adv bool) map[string]any {
		s := map[string]any{"extension": c.Extension, "telemetry": []json.RawMessage{}, "attributes": []json.RawMessage{}}
		for _, sec := range []struct {
			name  string
			cfg   []ItemConfig
			items []json.RawMessage
		}{{"telemetry", c.Telemetry, raw.Devices[i].Telemetry}, {"attributes", c.Attributes, raw.Devices[i].Attributes}} {
			for j := range sec.cfg {
				if isAdv(&sec.cfg[j]) == adv && j < len(sec.items) {
					s[sec.name] = append(s[sec.name].([]json.RawMessage), sec.items[j])
				}
			}
		}
		return s
	}
	cc.char, cc.adv = section(false), section(true)
	cc.raw = append(append(cc.raw, raw.Devices[i].Telemetry...), raw.Devices[i].Attributes...)
	return cc, "", nil
}

func isAdv(c *ItemConfig) bool {
	return c.DataSourceType != "" && c.DataSourceType != "characteristic" && c.DataSourceType != "Characteristic"
}

// bind remembers the raw configuration of every compiled item (compiled
// in configuration order, telemetry first), so that a value read or
// notified is handed to the class with it.
func (cc *customConv) bind(d *deviceSpec) {
	cc.items = map[*item]json.RawMessage{}
	for j, it := range d.items {
		if j < len(cc.raw) {
			cc.items[it] = cc.raw[j]
		}
	}
}

// rawValue is a characteristic's bytes as read or notified, with the
// item it is for.
type rawValue struct {
	it    *item
	value []byte
}

// convertValues hands read or notified values to the class:
// convert(characteristic section, {"telemetry": [item + data], "attributes": [...]}).
func (cc *customConv) convertValues(name string, handle uint16, vals []rawValue, now time.Time) ([]connector.Data, error) {
	data := map[string][]map[string]any{"telemetry": {}, "attributes": {}}
	for _, v := range vals {
		m := map[string]any{}
		if raw := cc.items[v.it]; raw != nil {
			_ = json.Unmarshal(raw, &m)
		}
		if handle != 0 {
			m["handle"] = handle // upstream sets the notifying characteristic's handle
		}
		m["data"] = base64.StdEncoding.EncodeToString(v.value)
		sec := "telemetry"
		if v.it.attr {
			sec = "attributes"
		}
		data[sec] = append(data[sec], m)
	}
	args, err := json.Marshal(map[string]any{"config": cc.char, "data": data})
	if err != nil {
		return nil, err
	}
	return cc.call(name, args, now)
}

// convertAdv hands an advertisement's manufacturer data to the class:
// convert(advertisement section, bytes).
func (cc *customConv) convertAdv(name string, manufacturer []byte, now time.Time) ([]connector.Data, error) {
	args, err := json.Marshal(map[string]any{"config": cc.adv, "advertisement": base64.StdEncoding.EncodeToString(manufacturer)})
	if err != nil {
		return nil, err
	}
	return cc.call(name, args, now)
}

func (cc *customConv) call(name string, args json.RawMessage, now time.Time) ([]connector.Data, error) {
	out, err := cc.conv.ConvertCall(args, now.UnixMilli())
	if err != nil {
		return nil, fmt.Errorf("device %s: %w", name, err)
	}
	items := out[:0]
	for _, d := range out {
		if d.Device != "" && len(d.Attributes)+len(d.Telemetry) > 0 {
			items = append(items, d)
		}
	}
	return items, nil
}

// appendNotify converts a notification, with the device's converter class
// when it has one.
func (d *device) appendNotify(batch []connector.Data, n notification) []connector.Data {
	if d.spec.custom == nil {
		return append(batch, d.notifyData(n))
	}
	var raws []rawValue
	for _, it := range d.spec.items {
		if !d.notifiedBy(it, n.handle) {
			continue
		}
		raws = append(raws, rawValue{it, n.value})
	}
	if len(raws) == 0 {
		return batch
	}
	out, err := d.spec.custom.convertValues(d.spec.name, n.handle, raws, d.c.env.Now())
	if err != nil {
		d.c.cnt.Add("convertErrors", 1)
		d.c.env.Log.Warn("converting a notification", "device", d.spec.name, "converter", d.spec.custom.name, "err", err)
	}
	return append(batch, out...)
}

// customReads hands the values of one poll to the device's converter
// class and sends what it returns.
func (d *device) customReads(ctx context.Context, raws []rawValue) error {
	if len(raws) == 0 {
		return nil
	}
	out, err := d.spec.custom.convertValues(d.spec.name, 0, raws, d.c.env.Now())
	if err != nil {
		d.c.cnt.Add("convertErrors", 1)
		d.c.env.Log.Warn("converting read values", "device", d.spec.name, "converter", d.spec.custom.name, "err", err)
		return nil
	}
	if len(out) == 0 {
		return nil
	}
	return d.c.send.Send(ctx, out)
}

// customAdv hands an advertisement's first manufacturer data value to the
// device's converter class, as upstream does (nothing without one).
func (d *device) customAdv(ctx context.Context, s sighting) error {
	if len(s.data.Manufacturer) == 0 {
		return nil
	}
	has := false
	for _, it := range d.spec.items {
		has = has || it.adv
	}
	if !has {
		return nil
	}
	out, err := d.spec.custom.convertAdv(d.spec.name, s.data.Manufacturer[0].Data, d.c.env.Now())
	if err != nil {
		d.c.cnt.Add("convertErrors", 1)
		d.c.env.Log.Debug("converting an advertisement", "device", d.spec.name, "converter", d.spec.custom.name, "err", err)
		return nil
	}
	if len(out) == 0 {
		return nil
	}
	return d.c.send.Send(ctx, out)
}
