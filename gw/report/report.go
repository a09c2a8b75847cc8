// Package report applies ThingsBoard report strategies (ON_RECEIVED,
// ON_CHANGE, ON_REPORT_PERIOD, ON_CHANGE_OR_REPORT_PERIOD, DISABLED) to
// converted data before it is stored.
//
// A strategy is chosen per datapoint, most specific first: the point's own
// (key or device level, set by the connector), the connector's, then the
// gateway-wide one. State is kept per (connector, device, key, kind) and
// expires ttl seconds after its last update. Periodic strategies re-send the
// cached value every period, stamped with the current time, through the
// function given to Run. Time comes from an injectable clock.
package report

import (
	"context"
	"math"
	"strings"
	"sync"
	"time"

	"github.com/tbgw/tbgw/codec/model"
	"github.com/tbgw/tbgw/gw/connector"
)

// Strategy types and defaults, declared in codec/model.
const (
	OnReceived             = model.OnReceived
	OnChange               = model.OnChange
	OnReportPeriod         = model.OnReportPeriod
	OnChangeOrReportPeriod = model.OnChangeOrReportPeriod
	Disabled               = model.Disabled
	DefaultPeriodMs        = model.DefaultPeriodMs
	DefaultTTLSec          = model.DefaultTTLSec
)

// Normalize upper-cases the type and fills the default period and ttl.
func Normalize(s *connector.Strategy) *connector.Strategy { return model.Normalize(s) }

type key struct {
	conn, device, key string
	attr              bool
}

type entry struct {
	value    any
	strat    *connector.Strategy
	updated  time.Time // last time a value arrived
	sent     time.Time // last time a value was sent
	periodic bool
}

// Filter holds the strategy state.
type Filter struct {
	now    func() time.Time
	global *connector.Strategy

	mu    sync.Mutex
	cache map[key]*entry
	// periodic counts entries with a periodic strategy, so Run can idle.
	periodic int
	wake     chan struct{}
}

// New returns a filter with the gateway-wide strategy global (nil means
// ON_RECEIVED) and a clock.
func New(global *connector.Strategy, now func() time.Time) *Filter {
	if now == nil {
		now = time.Now
	}
	g := Normalize(global)
	if g == nil {
		g = Normalize(&connector.Strategy{Type: OnReceived})
	}
	return &Filter{now: now, global: g, cache: map[key]*entry{}, wake: make(chan struct{}, 1)}
}

// Bypass reports whether the filter never drops anything for connectors
// without their own strategy: the global strategy is DISABLED (upstream
// turns the service off) or ON_RECEIVED.
func (f *Filter) Bypass() bool {
	return f.global.Type == Disabled || f.global.Type == OnReceived
}

// Apply removes from d the points its strategies say not to send now.
// conn identifies the connector; connStrat is its own strategy (may be nil).
// It returns false when nothing is left.
func (f *Filter) Apply(conn string, connStrat *connector.Strategy, d *connector.Data) bool {
	if f.global.Type == Disabled {
		return len(d.Attributes)+len(d.Telemetry) > 0
	}
	fast := connStrat == nil && f.global.Type == OnReceived
	if fast {
		fast = !hasOwn(d.Attributes) && !hasOwn(d.Telemetry)
	}
	if fast {
		return len(d.Attributes)+len(d.Telemetry) > 0
	}
	now := f.now()
	f.mu.Lock()
	d.Attributes = f.filter(conn, connStrat, d.Device, true, d.Attributes, now)
	d.Telemetry = f.filter(conn, connStrat, d.Device, false, d.Telemetry, now)
	f.mu.Unlock()
	return len(d.Attributes)+len(d.Telemetry) > 0
}

func hasOwn(pts []connector.Point) bool {
	for i := range pts {
		if pts[i].Report != nil {
			return true
		}
	}
	return false
}

func (f *Filter) filter(conn string, connStrat *connector.Strategy, device string, attr bool, pts []connector.Point, now time.Time) []connector.Point {
	out := pts[:0]
	for _, p := range pts {
		s := p.Report
		if s == nil {
			s = connStrat
		}
		if s == nil {
			s = f.global
		}
		t := strings.ToUpper(s.Type)
		if t == OnReceived || t == Disabled || t == "" {
			out = append(out, p)
			continue
		}
		s = Normalize(s)
		k := key{conn, device, p.Key, attr}
		e := f.cache[k]
		if e != nil && now.Sub(e.updated) > time.Duration(s.TTLSec)*time.Second {
			f.drop(k, e)
			e = nil
		}
		periodic := t == OnReportPeriod || t == OnChangeOrReportPeriod
		if e == nil {
			e = &entry{value: p.Value, strat: s, updated: now, sent: now, periodic: periodic}
			f.cache[k] = e
			if periodic {
				f.periodic++
				f.kick()
			}
			out = append(out, p)
			continue
		}
		changed := !Equal(e.value, p.Value)
		e.updated = now
		e.value = p.Value
		if e.periodic != periodic {
			if periodic {
				f.periodic++
				f.kick()
			} else {
				f.periodic--
			}
			e.periodic = periodic
		}
		e.strat = s
		switch t {
		case OnChange, OnChangeOrReportPeriod:
			if changed {
				e.sent = now
				out = append(out, p)
			}
		case OnReportPeriod:
			// Only the periodic re-send reports it.
		default:
			out = append(out, p)
		}
	}
	// Clear the tail so dropped values can be collected.
	for i := len(out); i < len(pts); i++ {
		pts[i] = connector.Point{}
	}
	return out
}

func (f *Filter) drop(k key, e *entry) {
	if e.periodic {
		f.periodic--
	}
	delete(f.cache, k)
}

func (f *Filter) kick() {
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

// Equal compares values the way upstream decides "changed": floats equal
// within 0.001, everything else by value.
func Equal(a, b any) bool {
	fa, aok := num(a)
	fb, bok := num(b)
	if aok && bok {
		return math.Abs(fa-fb) < 0.001
	}
	switch x := a.(type) {
	case []byte:
		y, ok := b.([]byte)
		return ok && string(x) == string(y)
	}
	if ra, ok := a.(interface{ String() string }); ok {
		if rb, ok := b.(interface{ String() string }); ok {
			return ra.String() == rb.String()
		}
	}
	return eqAny(a, b)
}

func eqAny(a, b any) (eq bool) {
	defer func() {
		if recover() != nil { // uncomparable dynamic types
			eq = false
		}
	}()
	if ra, ok := a.([]byte); ok {
		rb, ok := b.([]byte)
		return ok && string(ra) == string(rb)
	}
	return a == b || rawEq(a, b)
}

func rawEq(a, b any) bool {
	type raw interface{ MarshalJSON() ([]byte, error) }
	ra, ok1 := a.(raw)
	rb, ok2 := b.(raw)
	if !ok1 || !ok2 {
		return false
	}
	x, err1 := ra.MarshalJSON()
	y, err2 := rb.MarshalJSON()
	return err1 == nil && err2 == nil && string(x) == string(y)
}

func num(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case int64:
		return float64(x), true
	case int:
		return float64(x), true
	}
	return 0, false
}

// Due collects the values whose period elapsed, grouped per connector and
// device, and marks them sent. Values are stamped with the current time.
func (f *Filter) Due() map[string][]connector.Data {
	now := f.now()
	ms := now.UnixMilli()
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.periodic == 0 {
		return nil
	}
	type dk struct{ conn, device string }
	idx := map[dk]int{}
	var out map[string][]connector.Data
	for k, e := range f.cache {
		if !e.periodic {
			continue
		}
		if now.Sub(e.updated) > time.Duration(e.strat.TTLSec)*time.Second {
			f.drop(k, e)
			continue
		}
		if now.Sub(e.sent) < time.Duration(e.strat.PeriodMs)*time.Millisecond {
			continue
		}
		e.sent = now
		if out == nil {
			out = map[string][]connector.Data{}
		}
		i, ok := idx[dk{k.conn, k.device}]
		if !ok {
			out[k.conn] = append(out[k.conn], connector.Data{Device: k.device})
			i = len(out[k.conn]) - 1
			idx[dk{k.conn, k.device}] = i
		}
		d := &out[k.conn][i]
		// The point carries an explicit ON_RECEIVED strategy so that the
		// re-send is not filtered again.
		p := connector.Point{Key: k.key, Value: e.value, Report: &receivedStrategy}
		if k.attr {
			d.Attributes = append(d.Attributes, p)
		} else {
			p.TS = ms
			d.Telemetry = append(d.Telemetry, p)
		}
	}
	return out
}

var receivedStrategy = connector.Strategy{Type: OnReceived}

// nextDue returns how long until the earliest periodic entry is due.
func (f *Filter) nextDue() time.Duration {
	now := f.now()
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.periodic == 0 {
		return -1
	}
	best := time.Hour
	for _, e := range f.cache {
		if !e.periodic {
			continue
		}
		d := e.sent.Add(time.Duration(e.strat.PeriodMs) * time.Millisecond).Sub(now)
		if d < best {
			best = d
		}
	}
	if best < 0 {
		best = 0
	}
	return best
}

// Run re-sends due periodic values through send until ctx is done, waking
// at the next due time.
func (f *Filter) Run(ctx context.Context, send func(conn string, items []connector.Data)) {
	for {
		wait := f.nextDue()
		var timer <-chan time.Time
		var t *time.Timer
		if wait >= 0 {
			t = time.NewTimer(wait + 5*time.Millisecond)
			timer = t.C
		}
		fired := false
		select {
		case <-ctx.Done():
		case <-f.wake:
		case <-timer:
			fired = true
		}
		if t != nil {
			t.Stop()
		}
		if ctx.Err() != nil {
			return
		}
		if !fired {
			continue
		}
		for conn, items := range f.Due() {
			send(conn, items)
		}
	}
}

// Len is the number of cached entries.
func (f *Filter) Len() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.cache)
}
