package opcua

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/gopcua/opcua/ua"

	"github.com/tbgw/tbgw/codec"
	"github.com/tbgw/tbgw/codec/conf"
	"github.com/tbgw/tbgw/gw/connector"
)

// pyMapping is a mapping's "converter": upstream's Python class of that
// name, one instance per device as upstream's connector makes them
// (constructed with the mapping entry plus device_name and device_type),
// called as convert(configs, values) with the device's values of one poll
// or notification batch.
type pyMapping struct {
	class string
	raw   map[string]any // the mapping entry as written
	mu    sync.Mutex
	devs  map[string]codec.CallUplink // by device name and profile
}

// compileConverter looks the class up now (constructed with the mapping's
// name and profile expressions) so that a missing class fails the start.
// Without an extension host the built-in conversion is used, with a
// warning.
func (m *mapping) compileConverter(doc *conf.Doc, path string, raw json.RawMessage, env connector.Env) error {
	var class string
	if err := json.Unmarshal(raw, &class); err != nil {
		return doc.Errorf(path+".converter", "want a converter class name")
	}
	var f struct {
		Mapping []map[string]any `json:"mapping"`
		Server  struct {
			Mapping []map[string]any `json:"mapping"`
		} `json:"server"`
	}
	_ = json.Unmarshal(doc.Raw(), &f)
	list := f.Mapping
	if strings.HasPrefix(path, "server.") {
		list = f.Server.Mapping
	}
	py := &pyMapping{class: class, devs: map[string]codec.CallUplink{}}
	if m.index < len(list) {
		py.raw = list[m.index]
	}
	if _, err := py.converter(m.nameExpr, m.profileExpr); err != nil {
		if errors.Is(err, codec.ErrNoResolver) {
			env.Log.Warn(doc.Pos(path+".converter") + ": " + path + ".converter: " + fmt.Sprintf("converter %q is not compiled in and no Python extension host is installed; the built-in conversion is used", class))
			return nil
		}
		return doc.Errorf(path+".converter", "%v", err)
	}
	m.py = py
	return nil
}

// converter returns the instance for a device, creating it on first use.
func (p *pyMapping) converter(name, profile string) (codec.CallUplink, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	key := name + "\x00" + profile
	if u := p.devs[key]; u != nil {
		return u, nil
	}
	cfg := make(map[string]any, len(p.raw)+2)
	for k, v := range p.raw {
		cfg[k] = v
	}
	cfg["device_name"], cfg["device_type"] = name, profile
	b, err := json.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	u, err := codec.NewCallUplink("opcua", p.class, b)
	if err != nil {
		return nil, err
	}
	if len(p.devs) >= 4096 {
		clear(p.devs) // devices come and go; keep the cache bounded
	}
	p.devs[key] = u
	return u, nil
}

// pyCall collects one device's arguments of convert(configs, values).
type pyCall struct {
	Configs []pyNodeConfig `json:"configs"`
	Values  []pyDataValue  `json:"values"`
}

type pyNodeConfig struct {
	Node     string          `json:"node"`
	Key      string          `json:"key"`
	Section  string          `json:"section"`
	TSLoc    string          `json:"timestampLocation"`
	Strategy json.RawMessage `json:"reportStrategy,omitempty"`
}

type pyDataValue struct {
	Value      any      `json:"value"`
	Variant    string   `json:"variantType"`
	Status     pyStatus `json:"status"`
	SourceTime *int64   `json:"sourceTimestamp"`
	ServerTime *int64   `json:"serverTimestamp"`
}

type pyStatus struct {
	Name  string `json:"name"`
	Value uint32 `json:"value"`
	Doc   string `json:"doc,omitempty"`
}

// variantNames turns gopcua's type names into asyncua's VariantType names.
var variantNames = strings.NewReplacer("TypeID", "", "Uint", "UInt", "GUID", "Guid", "NodeID", "NodeId", "XMLElement", "XmlElement")

func (b *batch) addPy(bp *boundPoint, dv *ua.DataValue) {
	if dv == nil {
		return
	}
	if b.py == nil {
		b.py = map[*device]*pyCall{}
	}
	call := b.py[bp.dev]
	if call == nil {
		call = &pyCall{}
		b.py[bp.dev] = call
		b.pyOrd = append(b.pyOrd, bp.dev)
	}
	nc := pyNodeConfig{Node: bp.node.String(), Key: bp.spec.key, Section: "timeseries", TSLoc: "gateway"}
	if bp.spec.attr {
		nc.Section = "attributes"
	}
	switch bp.spec.ts {
	case tsSource:
		nc.TSLoc = "sourceTimestamp"
	case tsServer:
		nc.TSLoc = "serverTimestamp"
	}
	v := pyDataValue{Variant: "Null", Status: pyStatus{Name: statusName(dv.Status), Value: uint32(dv.Status), Doc: statusText(dv.Status)}}
	if dv.Value != nil {
		v.Variant = variantNames.Replace(dv.Value.Type().String())
		if t, ok := dv.Value.Value().(time.Time); ok {
			v.Value = t.UnixMilli()
		} else {
			v.Value = convertValue(dv.Value.Value())
		}
	}
	if !dv.SourceTimestamp.IsZero() {
		ms := dv.SourceTimestamp.UnixMilli()
		v.SourceTime = &ms
	}
	if !dv.ServerTimestamp.IsZero() {
		ms := dv.ServerTimestamp.UnixMilli()
		v.ServerTime = &ms
	}
	call.Configs = append(call.Configs, nc)
	call.Values = append(call.Values, v)
}

// convertPy runs the Python converters of the batch's devices and adds
// what they return; a failing converter drops that device's values.
func (c *Connector) convertPy(b *batch) {
	for _, d := range b.pyOrd {
		args, err := json.Marshal(b.py[d])
		var items []connector.Data
		if err == nil {
			items, err = d.pyconv.ConvertCall(args, time.Now().UnixMilli())
		}
		if err != nil {
			c.log.Warn("converter failed, data dropped", "device", d.name, "err", err)
			continue
		}
		for _, it := range items {
			b.n += len(it.Attributes) + len(it.Telemetry)
		}
		b.extra = append(b.extra, items...)
	}
	b.py, b.pyOrd = nil, nil
}
