// Package simulator is a connector that makes up devices: it generates
// telemetry (counters, sine waves, random walks, constants) and attributes
// for N devices at a configured rate, answers the RPCs getValue, setValue
// and getDeviceInfo, and applies shared attribute updates, reporting each
// one back as a client attribute. It is useful for testing dashboards, as
// the source of `make demo`, and as a load generator.
//
// Configuration (connector type "simulator"):
//
//	{
//	  "devices": 3,                       // how many devices
//	  "deviceNamePrefix": "Sim Device ",  // names are prefix + 1..N
//	  "deviceType": "simulator",
//	  "periodMs": 1000,                   // one message per device per period
//	  "messagesPerSecond": 0,             // or: a total rate across devices (overrides periodMs)
//	  "telemetry": [
//	    {"key": "temperature", "type": "sine", "min": 15, "max": 25, "periodSeconds": 60},
//	    {"key": "counter", "type": "counter"},
//	    {"key": "pressure", "type": "randomWalk", "min": 990, "max": 1030, "step": 0.5},
//	    {"key": "status", "type": "constant", "value": "ok"}
//	  ],
//	  "attributes": [{"key": "model", "value": "SIM-1"}]
//	}
package simulator

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tbgw/tbgw/codec/conf"
	"github.com/tbgw/tbgw/drivers/kit"
	"github.com/tbgw/tbgw/gw/connector"
)

func init() { connector.Register("simulator", New) }

// Config is the simulator's configuration file.
type Config struct {
	Devices           int         `json:"devices"`
	DeviceNamePrefix  string      `json:"deviceNamePrefix"`
	DeviceType        string      `json:"deviceType"`
	PeriodMs          int         `json:"periodMs"`
	MessagesPerSecond float64     `json:"messagesPerSecond"`
	Telemetry         []Generator `json:"telemetry"`
	Attributes        []Constant  `json:"attributes"`
}

// Generator describes one telemetry key.
type Generator struct {
	Key           string          `json:"key"`
	Type          string          `json:"type"` // counter, sine, randomWalk, constant
	Min           float64         `json:"min"`
	Max           float64         `json:"max"`
	Step          float64         `json:"step"`
	PeriodSeconds float64         `json:"periodSeconds"`
	Value         json.RawMessage `json:"value"`
}

// Constant is an attribute with a fixed value.
type Constant struct {
	Key   string          `json:"key"`
	Value json.RawMessage `json:"value"`
}

var defaultTelemetry = []Generator{
	{Key: "temperature", Type: "sine", Min: 15, Max: 25, PeriodSeconds: 60},
	{Key: "humidity", Type: "randomWalk", Min: 30, Max: 70, Step: 0.5},
	{Key: "counter", Type: "counter"},
}

// Simulator is the connector.
type Simulator struct {
	cfg  Config
	env  connector.Env
	devs []*simDevice
	byNm map[string]*simDevice
	sink atomic.Pointer[connector.Sink] // set by Run, for claim requests
}

type simDevice struct {
	name  string
	mu    sync.Mutex
	walk  map[string]float64
	count int64
	set   map[string]any // values pinned by setValue
	attrs map[string]any // shared attributes applied
	dirty []connector.Point
}

// New builds a simulator from its configuration.
func New(raw []byte, env connector.Env) (connector.Connector, error) {
	var c Config
	doc, err := kit.Setup("simulator", raw, &env, &c)
	if err != nil {
		return nil, err
	}
	s, err := compile(doc, c, env)
	return s, kit.Errorf(env, err)
}

func compile(doc *conf.Doc, c Config, env connector.Env) (*Simulator, error) {
	if c.Devices == 0 {
		c.Devices = 1
	}
	if c.Devices < 0 || c.Devices > 1000000 {
		return nil, doc.Errorf("devices", "must be between 1 and 1000000")
	}
	if c.DeviceNamePrefix == "" {
		c.DeviceNamePrefix = "Sim Device "
	}
	if c.DeviceType == "" {
		c.DeviceType = "simulator"
	}
	if c.PeriodMs == 0 {
		c.PeriodMs = 1000
	}
	if c.PeriodMs < 0 {
		return nil, doc.Errorf("periodMs", "must be positive")
	}
	if c.MessagesPerSecond < 0 {
		return nil, doc.Errorf("messagesPerSecond", "must not be negative")
	}
	if len(c.Telemetry) == 0 && !doc.Has("telemetry") {
		c.Telemetry = defaultTelemetry
	}
	for i, g := range c.Telemetry {
		p := fmt.Sprintf("telemetry[%d]", i)
		if g.Key == "" {
			return nil, doc.Errorf(p+".key", "required")
		}
		switch g.Type {
		case "counter", "sine", "randomWalk":
		case "constant":
			if len(g.Value) == 0 || !json.Valid(g.Value) {
				return nil, doc.Errorf(p+".value", "required for a constant")
			}
		default:
			return nil, doc.Errorf(p+".type", "unknown generator %q (want counter, sine, randomWalk or constant)", g.Type)
		}
		if g.Max < g.Min {
			return nil, doc.Errorf(p+".max", "must not be below min")
		}
	}
	for i, a := range c.Attributes {
		if a.Key == "" || len(a.Value) == 0 {
			return nil, doc.Errorf(fmt.Sprintf("attributes[%d]", i), "key and value are required")
		}
	}
	s := &Simulator{cfg: c, env: env, byNm: map[string]*simDevice{}}
	for i := 1; i <= c.Devices; i++ {
		d := &simDevice{name: c.DeviceNamePrefix + strconv.Itoa(i), walk: map[string]float64{}, set: map[string]any{}, attrs: map[string]any{}}
		s.devs = append(s.devs, d)
		s.byNm[d.name] = d
	}
	return s, nil
}

// Run generates data until ctx ends.
func (s *Simulator) Run(ctx context.Context, sink connector.Sink) error {
	s.sink.Store(&sink)
	out := kit.NewSender(sink, s.env.Log)
	// Attributes once per run, for every device.
	if len(s.cfg.Attributes) > 0 {
		items := make([]connector.Data, 0, len(s.devs))
		for _, d := range s.devs {
			item := connector.Data{Device: d.name, Type: s.cfg.DeviceType}
			for _, a := range s.cfg.Attributes {
				item.Attributes = append(item.Attributes, connector.Point{Key: a.Key, Value: jsonValue(a.Value)})
			}
			items = append(items, item)
		}
		if err := out.Send(ctx, items); err != nil && ctx.Err() == nil {
			return err
		}
	}
	// One tick sends a round to a slice of devices so that the total rate
	// is spread evenly, but with periodMs the ticks are at least a second
	// (or the period) apart: a few devices once a second are one Send a
	// second, not one wake-up, commit and publish per device.
	period := time.Duration(s.cfg.PeriodMs) * time.Millisecond
	interval := max(period/time.Duration(len(s.devs)), 1)
	perTick := 1
	if s.cfg.MessagesPerSecond > 0 {
		interval = max(time.Duration(float64(time.Second)/s.cfg.MessagesPerSecond), 1)
		if interval < time.Millisecond {
			perTick = int(time.Millisecond / interval)
			interval = time.Duration(perTick) * interval
		}
	} else if minTick := min(period, time.Second); interval < minTick {
		perTick = min(len(s.devs), int((minTick+interval-1)/interval))
		interval = time.Duration(perTick) * interval
	}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	next := 0
	items := make([]connector.Data, 0, perTick)
	start := s.env.Now()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		items = items[:0]
		elapsed := s.env.Now().Sub(start).Seconds()
		for i := 0; i < perTick; i++ {
			d := s.devs[next]
			next = (next + 1) % len(s.devs)
			items = append(items, s.sample(d, elapsed))
		}
		if err := out.Send(ctx, items); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
	}
}

func (s *Simulator) sample(d *simDevice, elapsed float64) connector.Data {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.count++
	item := connector.Data{Device: d.name, Type: s.cfg.DeviceType, Telemetry: make([]connector.Point, 0, len(s.cfg.Telemetry))}
	for _, g := range s.cfg.Telemetry {
		var v any
		if pinned, ok := d.set[g.Key]; ok {
			v = pinned
		} else {
			v = s.generate(d, g, elapsed)
		}
		item.Telemetry = append(item.Telemetry, connector.Point{Key: g.Key, Value: v})
	}
	if len(d.dirty) > 0 {
		item.Attributes = d.dirty
		d.dirty = nil
	}
	return item
}

func (s *Simulator) generate(d *simDevice, g Generator, elapsed float64) any {
	switch g.Type {
	case "counter":
		return d.count
	case "sine":
		period := g.PeriodSeconds
		if period <= 0 {
			period = 60
		}
		mid, amp := (g.Max+g.Min)/2, (g.Max-g.Min)/2
		return round3(mid + amp*math.Sin(2*math.Pi*elapsed/period))
	case "randomWalk":
		v, ok := d.walk[g.Key]
		if !ok {
			v = (g.Min + g.Max) / 2
		}
		step := g.Step
		if step == 0 {
			step = 1
		}
		v += (rand.Float64()*2 - 1) * step
		if g.Max > g.Min {
			v = math.Min(g.Max, math.Max(g.Min, v))
		}
		d.walk[g.Key] = v
		return round3(v)
	}
	return jsonValue(g.Value)
}

func round3(f float64) float64 { return math.Round(f*1000) / 1000 }

// jsonValue turns a JSON literal into a data-model value.
func jsonValue(raw json.RawMessage) any {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return string(raw)
	}
	return modelValue(v, raw)
}

func modelValue(v any, raw json.RawMessage) any {
	switch x := v.(type) {
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1<<53 {
			return int64(x)
		}
		return x
	case string, bool:
		return x
	case nil:
		return json.RawMessage("null")
	}
	if raw == nil {
		b, _ := json.Marshal(v)
		return json.RawMessage(b)
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		return string(raw)
	}
	return json.RawMessage(buf.Bytes())
}

// OnAttributes applies shared attributes and reports them back as client
// attributes with the next sample.
func (s *Simulator) OnAttributes(ctx context.Context, device string, values map[string]any) error {
	d := s.byNm[device]
	if d == nil {
		return fmt.Errorf("simulator %s: unknown device %q", s.env.Name, device)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	for k, v := range values {
		d.attrs[k] = v
		d.dirty = append(d.dirty, connector.Point{Key: k, Value: modelValue(v, nil)})
	}
	s.env.Log.Info("attributes applied", "device", device, "keys", len(values))
	return nil
}

// OnRPC serves getValue, setValue, getDeviceInfo and claim.
func (s *Simulator) OnRPC(ctx context.Context, req connector.RPC) (any, error) {
	if req.Device == "" {
		// Connector RPC "simulator_devices".
		if req.Method == "devices" {
			names := make([]string, len(s.devs))
			for i, d := range s.devs {
				names[i] = d.name
			}
			return map[string]any{"result": names}, nil
		}
		return nil, fmt.Errorf("simulator %s: unknown connector method %q", s.env.Name, req.Method)
	}
	d := s.byNm[req.Device]
	if d == nil {
		return nil, fmt.Errorf("simulator %s: unknown device %q", s.env.Name, req.Device)
	}
	var p struct {
		Key   string `json:"key"`
		Value any    `json:"value"`
	}
	switch req.Method {
	case "getValue":
		if err := json.Unmarshal(req.Params, &p); err != nil || p.Key == "" {
			return map[string]any{"result": map[string]any{"error": `params must be {"key": "<telemetry key>"}`}}, nil
		}
		d.mu.Lock()
		defer d.mu.Unlock()
		if v, ok := d.set[p.Key]; ok {
			return map[string]any{"result": map[string]any{"value": v}}, nil
		}
		for _, g := range s.cfg.Telemetry {
			if g.Key == p.Key {
				return map[string]any{"result": map[string]any{"value": s.generate(d, g, float64(time.Now().Unix()))}}, nil
			}
		}
		if v, ok := d.attrs[p.Key]; ok {
			return map[string]any{"result": map[string]any{"value": v}}, nil
		}
		return map[string]any{"result": map[string]any{"error": "unknown key " + p.Key}}, nil
	case "setValue":
		if err := json.Unmarshal(req.Params, &p); err != nil || p.Key == "" || p.Value == nil {
			return map[string]any{"success": false, "error": `params must be {"key": "<key>", "value": <value>}`}, nil
		}
		d.mu.Lock()
		d.set[p.Key] = modelValue(p.Value, nil)
		d.mu.Unlock()
		return map[string]any{"success": true}, nil
	case "claim":
		var c struct {
			SecretKey  string `json:"secretKey"`
			DurationMs int64  `json:"durationMs"`
		}
		if err := json.Unmarshal(req.Params, &c); err != nil {
			return map[string]any{"success": false, "error": `params must be {"secretKey": "...", "durationMs": N}`}, nil
		}
		sp := s.sink.Load()
		if sp == nil {
			return nil, fmt.Errorf("simulator %s: not running", s.env.Name)
		}
		if err := (*sp).Claim(ctx, d.name, c.SecretKey, time.Duration(c.DurationMs)*time.Millisecond); err != nil {
			return nil, err
		}
		return map[string]any{"success": true}, nil
	case "getDeviceInfo":
		return map[string]any{"result": map[string]any{"name": d.name, "type": s.cfg.DeviceType, "messages": d.count}}, nil
	}
	return map[string]any{"result": map[string]any{"error": "Method not found for " + req.Method}}, nil
}

var (
	_ connector.AttributeHandler = (*Simulator)(nil)
	_ connector.RPCHandler       = (*Simulator)(nil)
)
