package snmp

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/tbgw/tbgw/gw/connector"
)

// maxBackoff caps the delay between polls of an agent that does not answer
// (never shorter than the device's poll period).
const maxBackoff = time.Minute

// backoff is the delay before the next poll after n consecutive failures:
// the poll period, doubled from the second failure on, up to maxBackoff.
func backoff(period time.Duration, n int) time.Duration {
	if n <= 1 {
		return period
	}
	limit := max(period, maxBackoff)
	d := period << min(n-1, 16)
	if d <= 0 || d > limit {
		return limit
	}
	return d
}

// poll reads every datapoint of d once, sends what it got and schedules
// the next poll.
func (c *Connector) poll(ctx context.Context, sink connector.Sink, w *worker, d *device) {
	start := time.Now()
	if d.acquire(ctx) != nil {
		return
	}
	data, err := c.collect(ctx, w, d)
	if ctx.Err() != nil {
		d.release()
		return
	}
	wasUp := d.up
	switch {
	case err != nil:
		d.failures++
		d.forget() // rediscover (SNMPv3 engine) once it is back
		d.up = false
		if d.failures == 1 {
			c.log.Warn("agent does not answer", "device", d.name, "ip", d.host, "port", d.port, "err", err)
		} else {
			c.log.Debug("agent still does not answer", "device", d.name, "failures", d.failures, "err", err)
		}
		d.next = time.Now().Add(backoff(d.period, d.failures))
	default:
		if d.failures > 0 {
			c.log.Info("agent answers again", "device", d.name, "after", d.failures)
		}
		d.failures = 0
		if len(data.Attributes)+len(data.Telemetry) > 0 {
			d.up = true
		}
		d.next = start.Add(d.period)
		if now := time.Now(); d.next.Before(now) {
			d.next = now
		}
	}
	up := d.up
	d.release()

	if up != wasUp {
		c.setUp(ctx, sink, d, up)
	}
	if len(data.Attributes)+len(data.Telemetry) == 0 {
		return
	}
	out := []connector.Data{data}
	if d.conv != nil {
		if out = c.convert(d, data); len(out) == 0 {
			return
		}
	}
	if err := sink.Send(ctx, out); err != nil {
		lvl := c.log.Warn
		if errors.Is(err, connector.ErrStorageFull) || errors.Is(err, connector.ErrStopping) || ctx.Err() != nil {
			lvl = c.log.Debug
		}
		lvl("data dropped", "device", d.name, "err", err)
	}
}

// collect runs the reads of one poll. It returns an error only when the
// agent could not be reached; per-datapoint errors are logged and the
// datapoint left out. Called with the device lock held.
func (c *Connector) collect(ctx context.Context, w *worker, d *device) (connector.Data, error) {
	data := connector.Data{Device: d.name, Type: d.typ}
	ap, err := d.resolve(ctx, c.env.Now())
	if err != nil {
		return data, err
	}
	if len(d.items) == 0 {
		return data, nil
	}
	s, err := w.socks.get(ap.Addr())
	if err != nil {
		return data, err
	}
	sess, err := d.session(ctx, w.eng, ap, s)
	if err != nil {
		return data, err
	}
	defer sess.end()
	ts := c.env.Now().UnixMilli()
	record := func(it *item, v any, err error) {
		if err != nil {
			if !unreachable(err) && ctx.Err() == nil {
				c.itemError(d, it, err)
			}
			return
		}
		if _, had := d.errs[it.key]; had {
			delete(d.errs, it.key)
			c.log.Info("datapoint readable again", "device", d.name, "key", it.key)
		}
		if it.attr {
			data.Attributes = append(data.Attributes, connector.Point{Key: it.key, Value: v, Report: it.report})
		} else {
			data.Telemetry = append(data.Telemetry, connector.Point{Key: it.key, Value: v, TS: ts, Report: it.report})
		}
	}
	for _, b := range d.batches {
		if err := sess.getBatch(b, record); unreachable(err) {
			return connector.Data{}, err
		}
	}
	for _, it := range d.single {
		v, err := sess.read(&it.op)
		if unreachable(err) {
			return connector.Data{}, err
		}
		record(it, v, err)
	}
	return data, nil
}

// itemError logs a datapoint that could not be read: at Warn when the
// error is new for it, at Debug while it repeats.
func (c *Connector) itemError(d *device, it *item, err error) {
	msg := err.Error()
	if d.errs[it.key] == msg {
		c.log.Debug("datapoint not read", "device", d.name, "key", it.key, "err", msg)
		return
	}
	d.errs[it.key] = msg
	c.log.Warn("datapoint not read", "device", d.name, "key", it.key, "method", it.op.method, "err", msg)
}

// convert hands a poll's values to the device's custom converter as one
// JSON object {"<key>": value, ...} (upstream passes the same mapping),
// with the device name as topic.
func (c *Connector) convert(d *device, data connector.Data) []connector.Data {
	m := make(map[string]any, len(data.Attributes)+len(data.Telemetry))
	for _, p := range data.Attributes {
		m[p.Key] = p.Value
	}
	for _, p := range data.Telemetry {
		m[p.Key] = p.Value
	}
	payload, err := json.Marshal(m)
	if err == nil {
		var out []connector.Data
		if out, err = d.conv.Convert(d.name, payload, c.env.Now().UnixMilli()); err == nil {
			return out
		}
	}
	c.log.Warn("converter failed, data dropped", "device", d.name, "err", err)
	return nil
}
