package bacnet

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"unicode"

	"github.com/tbgw/tbgw/codec"
	"github.com/tbgw/tbgw/codec/bacnet"
	"github.com/tbgw/tbgw/codec/conf"
	"github.com/tbgw/tbgw/gw/connector"
)

// pyConverter is a device entry's "uplink_converter": upstream's Python
// class of that name, one instance per discovered device, constructed as
// upstream's BACnet connector does (an UplinkConverterConfig: device name
// and type, device details, report strategy, objects to read) and called
// as convert(items, values) with the (object id, property, index, value)
// tuples of one poll or COV notification.
type pyConverter struct {
	class string
	raw   map[string]any // the device entry as written
	mu    sync.Mutex
	devs  map[string]codec.CallUplink // by device name
}

// compileConverter looks the class up now, so that a missing class fails
// the start. Without an extension host the built-in conversion is used,
// with a warning.
func compileConverter(doc *conf.Doc, path string, index int, name json.RawMessage, d *devicePlan, warn func(error)) (*pyConverter, error) {
	var class string
	if err := json.Unmarshal(name, &class); err != nil || class == "" {
		return nil, doc.Errorf(path+".uplink_converter", "want a converter class name")
	}
	var f struct {
		Devices []map[string]any `json:"devices"`
	}
	_ = json.Unmarshal(doc.Raw(), &f)
	p := &pyConverter{class: class, devs: map[string]codec.CallUplink{}}
	if index < len(f.Devices) {
		p.raw = f.Devices[index]
	}
	if _, err := p.build(d.name.text, d.profile.text, 0, 0, ""); err != nil {
		if errors.Is(err, codec.ErrNoResolver) {
			warn(fmt.Errorf("%s: %s.uplink_converter: converter %q is not compiled in and no Python extension host is installed; the built-in conversion is used", doc.Pos(path+".uplink_converter"), path, class))
			return nil, nil
		}
		return nil, doc.Errorf(path+".uplink_converter", "%v", err)
	}
	return p, nil
}

// converter returns the instance for a discovered device.
func (p *pyConverter) converter(d *device) (codec.CallUplink, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if u := p.devs[d.name]; u != nil {
		return u, nil
	}
	u, err := p.build(d.name, d.profile, d.instance, d.vendorID, d.tgt.peer.String())
	if err != nil {
		return nil, fmt.Errorf("device %s: %w", d.name, err)
	}
	if len(p.devs) >= 4096 {
		clear(p.devs)
	}
	p.devs[d.name] = u
	return u, nil
}

func (p *pyConverter) build(name, profile string, instance uint32, vendor uint64, addr string) (codec.CallUplink, error) {
	var objects []map[string]any
	for _, sec := range []string{"attributes", "timeseries"} {
		list, _ := p.raw[sec].([]any)
		for _, x := range list {
			it, ok := x.(map[string]any)
			if !ok || it["objectType"] == nil {
				continue
			}
			o := make(map[string]any, len(it)+1)
			for k, v := range it {
				o[k] = v
			}
			o["type"] = sec
			if it["objectType"] == "device" {
				o["objectId"] = instance
			}
			objects = append(objects, o)
		}
	}
	cfg, err := json.Marshal(map[string]any{
		"deviceName": name, "deviceType": profile, "reportStrategy": p.raw["reportStrategy"],
		"deviceDetails": map[string]any{"objectId": instance, "vendorId": vendor, "address": addr},
		"objectsToRead": objects,
	})
	if err != nil {
		return nil, err
	}
	return codec.NewCallUplink("bacnet", p.class, cfg)
}

// kebab turns a camelCase BACnet name into bacpypes3's form
// (presentValue -> present-value).
func kebab(s string) string {
	var b strings.Builder
	for i, r := range s {
		if unicode.IsUpper(r) {
			if i > 0 {
				b.WriteByte('-')
			}
			r = unicode.ToLower(r)
		}
		b.WriteRune(r)
	}
	return b.String()
}

// convertAll converts one read set of d: the built-in conversion, or the
// device's Python converter (a failing converter drops the values).
func (c *Connector) convertAll(d *device, rs readSet, groups []*group, ts int64) []connector.Data {
	if d.pyconv == nil {
		return []connector.Data{d.convert(rs, groups, ts)}
	}
	type itemCfg struct {
		Key        string   `json:"key"`
		Type       string   `json:"type"`
		ObjectType string   `json:"objectType"`
		ObjectID   uint32   `json:"objectId"`
		PropertyID []string `json:"propertyId"`
	}
	var args struct {
		Config []itemCfg `json:"config"`
		Data   [][4]any  `json:"data"`
	}
	seen := map[bacnet.ObjectID]bool{}
	for _, g := range groups {
		vals := rs[g.obj]
		if vals == nil {
			continue
		}
		ic := itemCfg{Key: g.it.key, Type: "timeseries", ObjectType: g.obj.Type.String(), ObjectID: g.obj.Instance}
		if g.it.attr {
			ic.Type = "attributes"
		}
		props := g.it.props
		if g.it.anyProp {
			props = nil
			for p := range vals {
				props = append(props, p)
			}
		}
		for _, p := range append(props, g.it.keyProps...) {
			ic.PropertyID = append(ic.PropertyID, p.String())
		}
		args.Config = append(args.Config, ic)
		if seen[g.obj] {
			continue
		}
		seen[g.obj] = true
		oid := []any{kebab(g.obj.Type.String()), g.obj.Instance}
		for p, r := range vals {
			var v any
			if r.err != nil {
				v = map[string]string{"error": r.err.Error()}
			} else if dv, ok := datapoint(p, r.vals); ok {
				v = dv
			} else {
				continue
			}
			args.Data = append(args.Data, [4]any{oid, kebab(p.String()), nil, v})
		}
	}
	b, err := json.Marshal(&args)
	var out []connector.Data
	if err == nil {
		out, err = d.pyconv.ConvertCall(b, ts)
	}
	if err != nil {
		c.log.Warn("bacnet: converter failed, data dropped", "device", d.name, "err", err)
		return nil
	}
	return out
}
