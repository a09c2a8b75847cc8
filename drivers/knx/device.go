package knx

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/tbgw/tbgw/codec/knx"
	"github.com/tbgw/tbgw/codec/tmpl"
	"github.com/tbgw/tbgw/gw/connector"
)

// device is one configured device: polled every period; its name (and
// profile) may come from group address values.
type device struct {
	index     int
	period    time.Duration
	name, typ *nameExpr
	points    []point

	mu       sync.Mutex
	nameVals map[knx.Group]any // values of name/profile placeholders
	curName  string
	curType  string
}

func (d *device) init() { d.nameVals = map[knx.Group]any{} }

func (d *device) label() string { return fmt.Sprintf("devices[%d]", d.index) }

// addresses lists every group address the device listens to.
func (d *device) addresses() map[knx.Group]bool {
	m := map[knx.Group]bool{}
	for _, g := range d.name.gas {
		m[g] = true
	}
	for _, g := range d.typ.gas {
		m[g] = true
	}
	for _, p := range d.points {
		m[p.ga] = true
	}
	return m
}

// render resolves a name expression from the known values; ok is false
// while a placeholder's value is unknown.
func (d *device) render(n *nameExpr) (string, bool) {
	if n.t == nil {
		return n.text, true
	}
	s, missing := n.t.Render(tmpl.MissingKeep, func(dst []byte, expr string) ([]byte, bool) {
		g, err := knx.ParseGroup(expr)
		if err != nil {
			return dst, false
		}
		v, ok := d.nameVals[g]
		if !ok {
			return dst, false
		}
		return tmpl.AppendValue(dst, v), true
	})
	return s, missing == 0
}

// refreshName recomputes the name and profile; the caller holds d.mu.
func (d *device) refreshName() bool {
	name, ok1 := d.render(d.name)
	typ, ok2 := d.render(d.typ)
	if !ok1 || name == "" {
		return false
	}
	if !ok2 || typ == "" {
		typ = "default"
	}
	d.curName, d.curType = name, typ
	return true
}

func (c *Connector) pollLoop(ctx context.Context, sink connector.Sink, d *device) {
	for {
		if err := c.bus.waitUp(ctx); err != nil {
			return
		}
		start := time.Now()
		if err := c.poll(ctx, sink, d); err != nil && ctx.Err() == nil {
			c.log.Warn("knx: poll", "device", d.label(), "err", err)
		}
		t := time.NewTimer(max(time.Until(start.Add(d.period)), 0))
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return
		}
	}
}

// poll reads the device's group addresses (each once) and sends what
// answered.
func (c *Connector) poll(ctx context.Context, sink connector.Sink, d *device) error {
	values := map[knx.Group]any{}
	var errs []error
	read := func(g knx.Group, t *knx.DPT) {
		if _, done := values[g]; done {
			return
		}
		v, err := c.bus.read(ctx, g, t, c.plan.readTimeout)
		if err != nil {
			errs = append(errs, err)
			values[g] = nil
			return
		}
		values[g] = v
	}
	for _, g := range d.name.gas {
		read(g, d.name.dpt)
	}
	for _, g := range d.typ.gas {
		read(g, d.typ.dpt)
	}
	for _, p := range d.points {
		read(p.ga, p.dpt)
	}
	d.mu.Lock()
	for _, g := range append(append([]knx.Group(nil), d.name.gas...), d.typ.gas...) {
		if v := values[g]; v != nil {
			d.nameVals[g] = v
		}
	}
	named := d.refreshName()
	name, typ := d.curName, d.curType
	d.mu.Unlock()
	if !named {
		errs = append(errs, errors.New("device name unknown: its group address did not answer"))
		return errors.Join(errs...)
	}
	data := connector.Data{Device: name, Type: typ}
	for _, p := range d.points {
		v := values[p.ga]
		if v == nil {
			continue
		}
		pt := connector.Point{Key: p.key, Value: v, Report: p.report}
		if p.attr {
			data.Attributes = append(data.Attributes, pt)
		} else {
			data.Telemetry = append(data.Telemetry, pt)
		}
	}
	if len(data.Attributes)+len(data.Telemetry) > 0 {
		if err := c.send(ctx, sink, data); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (c *Connector) send(ctx context.Context, sink connector.Sink, data connector.Data) error {
	err := sink.Send(ctx, []connector.Data{data})
	if errors.Is(err, connector.ErrStorageFull) {
		// A bus cannot be asked to resend: drop and count.
		if c.dropped.Add(1)%100 == 1 {
			c.log.Warn("knx: event storage full; data dropped", "device", data.Device, "dropped", c.dropped.Load())
		}
		return nil
	}
	return err
}

// observe handles a GroupValueWrite or Response heard on the bus: values
// of configured addresses are sent as they arrive, without waiting for
// the next poll.
func (c *Connector) observe(ga knx.Group, cm knx.CEMI) {
	sink := c.sink()
	if sink == nil {
		return
	}
	for _, d := range c.byGA[ga] {
		d.mu.Lock()
		for _, n := range []*nameExpr{d.name, d.typ} {
			for _, g := range n.gas {
				if g == ga {
					if v, err := n.dpt.Decode(cm.Data, cm.Small, cm.IsSmall); err == nil {
						d.nameVals[g] = v
					}
				}
			}
		}
		named := d.refreshName()
		name, typ := d.curName, d.curType
		d.mu.Unlock()
		if !named {
			continue
		}
		data := connector.Data{Device: name, Type: typ}
		for _, p := range d.points {
			if p.ga != ga {
				continue
			}
			v, err := p.dpt.Decode(cm.Data, cm.Small, cm.IsSmall)
			if err != nil {
				c.log.Debug("knx: telegram", "ga", ga.Format(c.plan.format), "err", err)
				continue
			}
			pt := connector.Point{Key: p.key, Value: v, Report: p.report}
			if p.attr {
				data.Attributes = append(data.Attributes, pt)
			} else {
				data.Telemetry = append(data.Telemetry, pt)
			}
		}
		if len(data.Attributes)+len(data.Telemetry) > 0 {
			c.queue(data)
		}
	}
}
