package convert

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/tbgw/tbgw/codec"
	"github.com/tbgw/tbgw/codec/jpath"
	"github.com/tbgw/tbgw/codec/pyre"
	"github.com/tbgw/tbgw/codec/tmpl"
	"github.com/tbgw/tbgw/codec/tstamp"
	"github.com/tbgw/tbgw/codec/value"
)

// Options are the parts of a converter's behaviour that come from outside
// its "converter" block.
type Options struct {
	// Report is the mapping-level report strategy (upstream
	// "reportStrategy" next to "converter"); datapoints without their own
	// get it. nil: inherit the connector's.
	Report *codec.Strategy
	// PartialNull renders unresolved placeholders of a multi-placeholder
	// value as the text "null" and drops the datapoint only when all are
	// unresolved (the Request connector's behaviour). By default a
	// datapoint with any unresolved placeholder is dropped.
	PartialNull bool
	// Location of timestamps written without a zone; nil: time.Local.
	Location *time.Location
}

// JSON is the upstream JSON uplink converter (MQTT "type": "json", and the
// REST/Request/XMPP/OCPP JSON converters) compiled from its configuration.
// It is safe for concurrent use.
type JSON struct {
	names         *Names
	attrs         []point
	telem         []point
	attrsAll      bool
	telemAll      bool
	useReceivedTS bool
	report        *codec.Strategy
	partialNull   bool
	loc           *time.Location
	pool          sync.Pool // *state
}

type state struct {
	doc jpath.Doc
	buf []byte
}

// point is one compiled datapoint.
type point struct {
	key      *tmpl.Template
	keyTopic *pyre.Regex
	val      *tmpl.Template
	valConst any // converted constant value, when val has no placeholders
	typ      value.Type
	report   *codec.Strategy
	ts       *tsField
	eval     *evalExpr
}

type tsField struct {
	t         *tmpl.Template
	last      string // last dotted segment of the placeholder
	dayFirst  bool
	yearFirst bool
}

// NewJSON compiles a JSON converter block.
func NewJSON(cfg *Config, opt Options) (*JSON, error) {
	names, err := CompileNames(cfg)
	if err != nil {
		return nil, err
	}
	c := &JSON{
		names:         names,
		useReceivedTS: cfg.UseReceivedTS,
		report:        opt.Report,
		partialNull:   opt.PartialNull,
		loc:           opt.Location,
	}
	if c.loc == nil {
		c.loc = time.Local
	}
	if r, err := cfg.ReportStrategy.Strategy(); err != nil {
		return nil, errf("reportStrategy", "%v", err)
	} else if r != nil {
		c.report = r
	}
	c.attrsAll = cfg.Attributes.All
	if c.attrs, err = c.compilePoints("attributes", cfg.Attributes.List, cfg.UseEval); err != nil {
		return nil, err
	}
	c.telemAll = cfg.Timeseries.All || cfg.Telemetry.All
	if c.telem, err = c.compilePoints("timeseries", cfg.Timeseries.List, cfg.UseEval); err != nil {
		return nil, err
	}
	tl, err := c.compilePoints("telemetry", cfg.Telemetry.List, cfg.UseEval)
	if err != nil {
		return nil, err
	}
	c.telem = append(c.telem, tl...)
	c.pool.New = func() any { return &state{buf: make([]byte, 0, 256)} }
	return c, nil
}

func (c *JSON) compilePoints(list string, dps []Datapoint, useEval bool) ([]point, error) {
	out := make([]point, 0, len(dps))
	for i := range dps {
		dp := &dps[i]
		path := fmt.Sprintf("%s[%d]", list, i)
		p := point{typ: value.ParseType(dp.Type), report: c.report}
		r, err := dp.ReportStrategy.Strategy()
		if err != nil {
			return nil, errf(path+".reportStrategy", "%v", err)
		}
		if r != nil {
			p.report = r
		}
		switch strings.ToLower(dp.KeySource) {
		case "", "message":
			if p.key, err = tmpl.Compile(dp.Key); err != nil {
				return nil, errf(path+".key", "%v", err)
			}
			if dp.Key == "" {
				return nil, errf(path+".key", "required")
			}
		case "topic":
			if p.keyTopic, err = pyre.Compile(dp.Key); err != nil {
				return nil, errf(path+".key", "%v", err)
			}
		default:
			return nil, errf(path+".keySource", "unknown source %q (want message or topic)", dp.KeySource)
		}
		if dp.Value == "" {
			return nil, errf(path+".value", "required")
		}
		if p.val, err = tmpl.Compile(dp.Value); err != nil {
			return nil, errf(path+".value", "%v", err)
		}
		if useEval && !p.val.IsConst() {
			if p.eval, err = compileEval(p.val); err != nil {
				return nil, errf(path+".value", "%v", err)
			}
		} else if p.val.IsConst() {
			p.valConst = value.Coerce(p.typ, dp.Value)
			if useEval {
				if p.eval, err = compileEval(p.val); err != nil {
					return nil, errf(path+".value", "%v", err)
				}
			}
		}
		if dp.TSField != "" {
			t, err := tmpl.Compile(dp.TSField)
			if err != nil {
				return nil, errf(path+".tsField", "%v", err)
			}
			ts := &tsField{t: t, dayFirst: dp.DayFirst, yearFirst: dp.YearFirst}
			expr := dp.TSField
			if vars := t.Vars(); len(vars) > 0 {
				expr = vars[0]
			}
			ts.last = strings.TrimSpace(expr[strings.LastIndexByte(expr, '.')+1:])
			p.ts = ts
		}
		out = append(out, p)
	}
	return out, nil
}

// ErrNotJSON is returned for payloads that are not JSON.
var ErrNotJSON = errors.New("payload is not JSON")

// Convert converts one message. A JSON array is converted element by
// element and merged per device. Points carry TS = nowMs unless the
// payload says otherwise (a "ts"/"timestamp" field or the datapoint's
// tsField); pass nowMs 0 to let the gateway stamp them. Convert returns
// what it could convert together with an error describing what it
// dropped (an element without a device name, a non-JSON payload). A
// message that yields no datapoint at all yields no Data.
func (c *JSON) Convert(topic string, payload []byte, nowMs int64) ([]codec.Data, error) {
	st := c.pool.Get().(*state)
	defer c.pool.Put(st)
	d := &st.doc
	if err := d.Reset(payload); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNotJSON, err)
	}
	root := d.Root()
	if d.Kind(root) != jpath.Array {
		out := make([]codec.Data, 1)
		if err := c.convertOne(&out[0], st, topic, root, nowMs); err != nil {
			return nil, err
		}
		if len(out[0].Attributes) == 0 && len(out[0].Telemetry) == 0 {
			return nil, nil // nothing to send, as upstream drops it
		}
		return out, nil
	}
	var out []codec.Data
	var errs []error
	d.Each(root, func(_ []byte, n jpath.Node) bool {
		var one codec.Data
		if err := c.convertOne(&one, st, topic, n, nowMs); err != nil {
			errs = append(errs, err)
			return true
		}
		if len(one.Attributes) == 0 && len(one.Telemetry) == 0 {
			return true
		}
		for i := range out {
			if out[i].Device == one.Device {
				out[i].Attributes = append(out[i].Attributes, one.Attributes...)
				out[i].Telemetry = append(out[i].Telemetry, one.Telemetry...)
				if out[i].Type == "" {
					out[i].Type = one.Type
				}
				return true
			}
		}
		out = append(out, one)
		return true
	})
	return out, errors.Join(errs...)
}

// ErrNoDevice is returned for a message whose device name is empty.
var ErrNoDevice = errors.New("device name is empty")

func (c *JSON) convertOne(out *codec.Data, st *state, topic string, root jpath.Node, nowMs int64) error {
	d := &st.doc
	out.Device, out.Type = c.names.Eval(topic, d, root)
	if out.Device == "" {
		return ErrNoDevice
	}
	if c.attrsAll {
		out.Attributes = appendAll(out.Attributes, d, root, 0, c.report)
	}
	if len(c.attrs) > 0 {
		if out.Attributes == nil {
			out.Attributes = make([]codec.Point, 0, len(c.attrs))
		}
		for i := range c.attrs {
			p := &c.attrs[i]
			if pt, ok := c.point(p, st, topic, root); ok {
				out.Attributes = append(out.Attributes, pt)
			}
		}
	}
	var defTS int64 = -1
	if c.useReceivedTS {
		defTS = nowMs
	}
	if c.telemAll {
		ts := defTS
		vals := root
		if ts < 0 {
			ts = nowMs
			// {"ts": ..., "values": {...}} is taken apart, as upstream.
			if tn, vn := d.Get(root, "ts"), d.Get(root, "values"); tn != jpath.NoNode && d.Kind(vn) == jpath.Object {
				if v, ok := nodeTS(d, tn, false, false, c.loc); ok {
					ts, vals = v, vn
				}
			}
		}
		out.Telemetry = appendAll(out.Telemetry, d, vals, ts, c.report)
	}
	if len(c.telem) > 0 {
		if out.Telemetry == nil {
			out.Telemetry = make([]codec.Point, 0, len(c.telem))
		}
		for i := range c.telem {
			p := &c.telem[i]
			pt, ok := c.point(p, st, topic, root)
			if !ok {
				continue
			}
			switch {
			case c.useReceivedTS:
				pt.TS = nowMs
			case p.ts != nil:
				if v, ok := c.fieldTS(p.ts, d, root); ok {
					pt.TS = v
					break
				}
				fallthrough
			default:
				if defTS < 0 {
					defTS = c.payloadTS(d, root, nowMs)
				}
				pt.TS = defTS
			}
			out.Telemetry = append(out.Telemetry, pt)
		}
	}
	return nil
}

// appendAll appends every member of object n as a point ("*" mapping);
// nulls are skipped.
func appendAll(dst []codec.Point, d *jpath.Doc, n jpath.Node, ts int64, r *codec.Strategy) []codec.Point {
	if dst == nil {
		dst = make([]codec.Point, 0, d.Len(n))
	}
	d.Each(n, func(key []byte, v jpath.Node) bool {
		if key == nil || d.Kind(v) == jpath.Null {
			return true
		}
		dst = append(dst, codec.Point{Key: string(key), Value: d.Value(v), TS: ts, Report: r})
		return true
	})
	return dst
}

// point evaluates one datapoint; ok is false when it is to be skipped.
func (c *JSON) point(p *point, st *state, topic string, root jpath.Node) (codec.Point, bool) {
	d := &st.doc
	pt := codec.Point{Report: p.report}
	// Key.
	switch {
	case p.keyTopic != nil:
		k, ok := p.keyTopic.FindGroup(topic)
		if !ok || k == "" {
			return pt, false
		}
		pt.Key = k
	case p.key.IsConst():
		pt.Key = p.key.String()
	default:
		if p.key.Single() {
			n := p.key.Lookup(d, root)
			if k := d.Kind(n); k == jpath.String {
				pt.Key = d.Str(n)
				break
			} else if k == jpath.Invalid || k == jpath.Null {
				return pt, false
			}
		}
		b, missing := p.key.Append(st.buf[:0], d, root, tmpl.MissingEmpty)
		st.buf = b
		if missing > 0 || len(b) == 0 {
			return pt, false
		}
		pt.Key = string(b)
	}
	// Value.
	switch {
	case p.eval != nil:
		v, ok := p.eval.eval(d, root)
		if !ok {
			return pt, false
		}
		if pt.Value = value.Coerce(p.typ, v); pt.Value == nil {
			return pt, false
		}
	case p.valConst != nil:
		pt.Value = p.valConst
	case p.val.Single():
		n := p.val.Lookup(d, root)
		v, ok := nodeValue(d, n, p.typ)
		if !ok {
			return pt, false
		}
		pt.Value = v
	default:
		m := tmpl.MissingEmpty
		if c.partialNull {
			m = tmpl.MissingNull
		}
		b, missing := p.val.Append(st.buf[:0], d, root, m)
		st.buf = b
		if missing > 0 && (!c.partialNull || missing == p.val.NumVars()) {
			return pt, false
		}
		v, ok := textValue(b, p.typ)
		if !ok {
			return pt, false
		}
		pt.Value = v
	}
	return pt, true
}

// payloadTS is the message's own timestamp: its top-level "ts", else
// "timestamp", else now.
func (c *JSON) payloadTS(d *jpath.Doc, root jpath.Node, nowMs int64) int64 {
	n := d.Get(root, "ts")
	if n == jpath.NoNode || d.Kind(n) == jpath.Null {
		n = d.Get(root, "timestamp")
	}
	if v, ok := nodeTS(d, n, false, false, c.loc); ok {
		return v
	}
	return nowMs
}

// fieldTS resolves a datapoint's tsField: the placeholder as a path, else
// (as upstream) the first member named like its last segment, searched
// through nested objects.
func (c *JSON) fieldTS(f *tsField, d *jpath.Doc, root jpath.Node) (int64, bool) {
	n := f.t.Lookup(d, root)
	if n == jpath.NoNode {
		n = findKey(d, root, f.last, 0)
	}
	return nodeTS(d, n, f.dayFirst, f.yearFirst, c.loc)
}

func findKey(d *jpath.Doc, n jpath.Node, name string, depth int) jpath.Node {
	if v := d.Get(n, name); v != jpath.NoNode && d.Kind(v) != jpath.Null {
		return v
	}
	if depth >= 32 {
		return jpath.NoNode
	}
	found := jpath.NoNode
	d.Each(n, func(key []byte, v jpath.Node) bool {
		if key != nil && d.Kind(v) == jpath.Object {
			found = findKey(d, v, name, depth+1)
		}
		return found == jpath.NoNode
	})
	return found
}

// nodeTS reads a timestamp: numbers as Unix time (unit by magnitude, see
// tstamp.FromNumber), strings as numbers or dates.
func nodeTS(d *jpath.Doc, n jpath.Node, dayFirst, yearFirst bool, loc *time.Location) (int64, bool) {
	switch d.Kind(n) {
	case jpath.Number:
		f, ok := d.Float(n)
		if !ok {
			return 0, false
		}
		if d.IsInt(n) {
			if i, ok := d.Int(n); ok && i >= 1e11 && i < 1e14 {
				return i, true // milliseconds, exact
			}
		}
		return tstamp.FromNumber(f)
	case jpath.String:
		var scratch [64]byte
		s := d.StrBytes(n, scratch[:0])
		ms, err := tstamp.ParseBytes(s, tstamp.Options{DayFirst: dayFirst, YearFirst: yearFirst, Location: loc})
		return ms, err == nil
	}
	return 0, false
}

func joinErrs(errs []error) error { return errors.Join(errs...) }
