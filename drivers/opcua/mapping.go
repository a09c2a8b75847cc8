package opcua

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/tbgw/tbgw/codec/conf"
	"github.com/tbgw/tbgw/drivers/kit"
	"github.com/tbgw/tbgw/gw/connector"
)

func compileMapping(doc *conf.Doc, path string, index int, mc *mappingConfig, env connector.Env) (*mapping, error) {
	m := &mapping{index: index, updates: map[string]ref{}, methods: map[string]*methodSpec{}}
	if strings.TrimSpace(mc.DeviceNodePattern) == "" {
		return nil, doc.Errorf(path+".deviceNodePattern", "required")
	}
	switch strings.ToLower(mc.DeviceNodeSource) {
	case "", "path", "identifier":
	default:
		return nil, doc.Errorf(path+".deviceNodeSource", "unknown source %q (want path or identifier)", mc.DeviceNodeSource)
	}
	pat, err := parseDeviceNode(mc.DeviceNodePattern)
	if err != nil {
		return nil, doc.Errorf(path+".deviceNodePattern", "%v", err)
	}
	m.pattern = pat

	// Device name and profile: new deviceInfo block or legacy patterns.
	if mc.DeviceInfo != nil {
		di := mc.DeviceInfo
		for _, c := range []struct{ key, v string }{
			{".deviceInfo.deviceNameExpressionSource", di.DeviceNameExpressionSource},
			{".deviceInfo.deviceProfileExpressionSource", di.DeviceProfileExpressionSource},
		} {
			switch strings.ToLower(c.v) {
			case "", "constant", "path", "identifier", "expression":
			default:
				return nil, doc.Errorf(path+c.key, "unknown source %q (want constant, path or identifier)", c.v)
			}
		}
		m.nameExpr, m.profileExpr = di.DeviceNameExpression, di.DeviceProfileExpression
	} else {
		m.nameExpr, m.profileExpr = mc.DeviceNamePattern, mc.DeviceTypePattern
	}
	if strings.TrimSpace(m.nameExpr) == "" {
		return nil, doc.Errorf(path+".deviceInfo.deviceNameExpression", "required")
	}
	if strings.TrimSpace(m.profileExpr) == "" {
		m.profileExpr = "default"
	}
	if len(mc.Converter) > 0 && string(mc.Converter) != "null" && string(mc.Converter) != `""` {
		if err := m.compileConverter(doc, path, mc.Converter, env); err != nil {
			return nil, err
		}
	}
	if m.report, err = mc.ReportStrategy.Strategy(); err != nil {
		return nil, doc.Errorf(path+".reportStrategy", "%v", err)
	}

	for _, sec := range []struct {
		name string
		list []pointConfig
		attr bool
	}{{"attributes", mc.Attributes, true}, {"timeseries", mc.Timeseries, false}} {
		for i := range sec.list {
			pc := &sec.list[i]
			pp := fmt.Sprintf("%s.%s[%d]", path, sec.name, i)
			p, err := compilePoint(doc, pp, pc, sec.attr)
			if err != nil {
				return nil, err
			}
			m.points = append(m.points, p)
		}
	}

	// An attributes_updates or rpc_methods entry that cannot work is left
	// out with a warning, as upstream does (an error in strict mode).
	skip := func(err error) error { return kit.Skip(env, err) }
	for i, u := range mc.AttributesUpdates {
		up := fmt.Sprintf("%s.attributes_updates[%d]", path, i)
		key, val := u.Key, u.Value
		if key == "" {
			key = u.AttributeOnThingsBoard
		}
		if val == "" {
			val = u.AttributeOnDevice
		}
		if key == "" {
			if err := skip(doc.Errorf(up+".key", "required")); err != nil {
				return nil, err
			}
			continue
		}
		switch strings.ToLower(u.Type) {
		case "", "path", "identifier":
		default:
			if err := skip(doc.Errorf(up+".type", "unknown type %q (want path or identifier)", u.Type)); err != nil {
				return nil, err
			}
			continue
		}
		r, err := parseTarget(val)
		if err != nil {
			if err := skip(doc.Errorf(up+".value", "%v", err)); err != nil {
				return nil, err
			}
			continue
		}
		if _, dup := m.updates[key]; !dup {
			m.updateKeys = append(m.updateKeys, key)
		}
		m.updates[key] = r
	}

	for i, r := range mc.RPCMethods {
		rp := fmt.Sprintf("%s.rpc_methods[%d]", path, i)
		if strings.TrimSpace(r.Method) == "" {
			if err := skip(doc.Errorf(rp+".method", "required")); err != nil {
				return nil, err
			}
			continue
		}
		spec := &methodSpec{name: r.Method}
		if len(r.Arguments) > 0 && string(r.Arguments) != "null" {
			var raw []json.RawMessage
			if err := json.Unmarshal(r.Arguments, &raw); err != nil {
				if err := skip(doc.Errorf(rp+".arguments", "must be an array")); err != nil {
					return nil, err
				}
				continue
			}
			for _, a := range raw {
				var obj struct {
					Type  string          `json:"type"`
					Value json.RawMessage `json:"value"`
				}
				if len(a) > 0 && a[0] == '{' && json.Unmarshal(a, &obj) == nil {
					spec.args = append(spec.args, argSpec{typ: obj.Type, value: decodeJSONValue(obj.Value)})
					continue
				}
				// Legacy: a plain value.
				spec.args = append(spec.args, argSpec{value: decodeJSONValue(a)})
			}
		}
		m.methods[r.Method] = spec
	}
	return m, nil
}

func compilePoint(doc *conf.Doc, path string, pc *pointConfig, attr bool) (*pointSpec, error) {
	if strings.TrimSpace(pc.Key) == "" {
		return nil, doc.Errorf(path+".key", "required")
	}
	val := pc.Value
	if val == "" && pc.Path != "" {
		val = pc.Path // legacy
	}
	p := &pointSpec{key: pc.Key, attr: attr}
	switch strings.ToLower(pc.TimestampLocation) {
	case "", "gateway":
	case "sourcetimestamp", "source":
		p.ts = tsSource
	case "servertimestamp", "server":
		p.ts = tsServer
	default:
		return nil, doc.Errorf(path+".timestampLocation", "unknown location %q (want gateway, sourceTimestamp or serverTimestamp)", pc.TimestampLocation)
	}
	typ := strings.ToLower(pc.Type)
	switch typ {
	case "", "path", "identifier":
		r, err := parseValueRef(val)
		if err != nil {
			return nil, doc.Errorf(path+".value", "%v", err)
		}
		if r.kind == refConstant && typ != "" {
			return nil, doc.Errorf(path+".value", "%q is not a ${path} or a node id", val)
		}
		p.ref = r
	case "constant":
		p.ref = ref{kind: refConstant, text: val}
	default:
		return nil, doc.Errorf(path+".type", "unknown type %q (want path, identifier or constant)", pc.Type)
	}
	var err error
	if p.report, err = pc.ReportStrategy.Strategy(); err != nil {
		return nil, doc.Errorf(path+".reportStrategy", "%v", err)
	}
	return p, nil
}

// decodeJSONValue decodes a JSON value keeping integers as int64 when they
// fit; nil for absent or null.
func decodeJSONValue(raw json.RawMessage) any {
	if len(raw) == 0 {
		return nil
	}
	var v any
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.UseNumber()
	if dec.Decode(&v) != nil {
		return nil
	}
	return normNumber(v)
}

func normNumber(v any) any {
	switch x := v.(type) {
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i
		}
		f, _ := x.Float64()
		return f
	case []any:
		for i := range x {
			x[i] = normNumber(x[i])
		}
	case map[string]any:
		for k := range x {
			x[k] = normNumber(x[k])
		}
	}
	return v
}
