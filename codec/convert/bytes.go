package convert

import (
	"fmt"
	"strings"

	"github.com/tbgw/tbgw/codec"
	"github.com/tbgw/tbgw/codec/bytesexpr"
	"github.com/tbgw/tbgw/codec/pyre"
	"github.com/tbgw/tbgw/codec/value"
)

// Bytes is the upstream bytes uplink converter (MQTT "type": "bytes"):
// device name, profile, keys and values are byte-slice templates over the
// raw payload (see package bytesexpr), rendered as UTF-8 text or, with a
// datapoint's "hexMode", lowercase hex. Telemetry is stamped nowMs. It is
// safe for concurrent use.
type Bytes struct {
	name, profile *bytesName
	attrs, telem  []bytesPoint
}

type bytesName struct {
	t  *bytesexpr.Template
	re *pyre.Regex
}

type bytesPoint struct {
	key      *bytesexpr.Template
	keyTopic *pyre.Regex
	val      *bytesexpr.Template
	render   bytesexpr.Rendering
	typ      value.Type
	report   *codec.Strategy
}

// NewBytes compiles a bytes converter block.
func NewBytes(cfg *Config, opt Options) (*Bytes, error) {
	c := &Bytes{}
	report := opt.Report
	if r, err := cfg.ReportStrategy.Strategy(); err != nil {
		return nil, errf("reportStrategy", "%v", err)
	} else if r != nil {
		report = r
	}
	nameExpr, nameSrc := cfg.DeviceNameExpression, ""
	profExpr, profSrc := cfg.DeviceTypeExpression, ""
	if di := cfg.DeviceInfo; di != nil {
		if di.DeviceNameExpression != "" {
			nameExpr, nameSrc = di.DeviceNameExpression, di.DeviceNameExpressionSource
		}
		if di.DeviceProfileExpression != "" {
			profExpr, profSrc = di.DeviceProfileExpression, di.DeviceProfileExpressionSource
		}
	}
	if nameExpr == "" {
		return nil, errf("deviceInfo.deviceNameExpression", "required")
	}
	var err error
	if c.name, err = compileBytesName(nameSrc, nameExpr); err != nil {
		return nil, errf("deviceInfo.deviceNameExpression", "%v", err)
	}
	if profExpr != "" {
		if c.profile, err = compileBytesName(profSrc, profExpr); err != nil {
			return nil, errf("deviceInfo.deviceProfileExpression", "%v", err)
		}
	}
	if cfg.Attributes.All || cfg.Timeseries.All || cfg.Telemetry.All {
		return nil, errf("attributes", `"*" is not supported by the bytes converter`)
	}
	if c.attrs, err = compileBytesPoints("attributes", cfg.Attributes.List, report); err != nil {
		return nil, err
	}
	if c.telem, err = compileBytesPoints("timeseries", cfg.Timeseries.List, report); err != nil {
		return nil, err
	}
	tl, err := compileBytesPoints("telemetry", cfg.Telemetry.List, report)
	if err != nil {
		return nil, err
	}
	c.telem = append(c.telem, tl...)
	return c, nil
}

func compileBytesName(src, expr string) (*bytesName, error) {
	if strings.EqualFold(src, "topic") {
		re, err := pyre.Compile(expr)
		return &bytesName{re: re}, err
	}
	t, err := bytesexpr.Compile(expr)
	return &bytesName{t: t}, err
}

func (n *bytesName) eval(topic string, p []byte) (string, error) {
	if n.re != nil {
		if s, ok := n.re.FindGroup(topic); ok {
			return s, nil
		}
		return n.re.String(), nil
	}
	return n.t.Render(p, bytesexpr.UTF8)
}

func compileBytesPoints(list string, dps []Datapoint, report *codec.Strategy) ([]bytesPoint, error) {
	out := make([]bytesPoint, 0, len(dps))
	for i := range dps {
		dp := &dps[i]
		path := fmt.Sprintf("%s[%d]", list, i)
		// Upstream sends bytes-converter values as text whatever their
		// "type" says; so do we.
		p := bytesPoint{typ: value.String, report: report}
		if dp.HexMode {
			p.render = bytesexpr.Hex
		}
		r, err := dp.ReportStrategy.Strategy()
		if err != nil {
			return nil, errf(path+".reportStrategy", "%v", err)
		}
		if r != nil {
			p.report = r
		}
		if dp.Key == "" {
			return nil, errf(path+".key", "required")
		}
		if strings.EqualFold(dp.KeySource, "topic") {
			if p.keyTopic, err = pyre.Compile(dp.Key); err != nil {
				return nil, errf(path+".key", "%v", err)
			}
		} else if p.key, err = bytesexpr.Compile(dp.Key); err != nil {
			return nil, errf(path+".key", "%v", err)
		}
		if dp.Value == "" {
			return nil, errf(path+".value", "required")
		}
		if p.val, err = bytesexpr.Compile(dp.Value); err != nil {
			return nil, errf(path+".value", "%v", err)
		}
		out = append(out, p)
	}
	return out, nil
}

// Convert converts one message.
func (c *Bytes) Convert(topic string, payload []byte, nowMs int64) ([]codec.Data, error) {
	name, err := c.name.eval(topic, payload)
	if err != nil {
		return nil, fmt.Errorf("device name: %w", err)
	}
	if name == "" {
		return nil, ErrNoDevice
	}
	out := make([]codec.Data, 1)
	d := &out[0]
	d.Device = name
	if c.profile != nil {
		if d.Type, err = c.profile.eval(topic, payload); err != nil {
			return nil, fmt.Errorf("device profile: %w", err)
		}
	}
	var errs []error
	d.Attributes, errs = c.points(d.Attributes, c.attrs, topic, payload, 0, errs)
	d.Telemetry, errs = c.points(d.Telemetry, c.telem, topic, payload, nowMs, errs)
	if len(errs) > 0 {
		return out, fmt.Errorf("device %s: %w", name, joinErrs(errs))
	}
	return out, nil
}

func (c *Bytes) points(dst []codec.Point, ps []bytesPoint, topic string, payload []byte, ts int64, errs []error) ([]codec.Point, []error) {
	if len(ps) == 0 {
		return dst, errs
	}
	dst = make([]codec.Point, 0, len(ps))
	var buf [64]byte
	for i := range ps {
		p := &ps[i]
		var key string
		if p.keyTopic != nil {
			k, ok := p.keyTopic.FindGroup(topic)
			if !ok || k == "" {
				continue
			}
			key = k
		} else if p.key.IsConst() {
			key = p.key.String()
		} else {
			b, err := p.key.Append(buf[:0], payload, p.render)
			if err != nil {
				errs = append(errs, fmt.Errorf("key %s: %w", p.key, err))
				continue
			}
			key = string(b)
		}
		b, err := p.val.Append(buf[:0], payload, p.render)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", key, err))
			continue
		}
		v, _ := textValue(b, p.typ)
		dst = append(dst, codec.Point{Key: key, Value: v, TS: ts, Report: p.report})
	}
	return dst, errs
}
