package snmp

import (
	"fmt"
	"github.com/tbgw/tbgw/drivers/kit"
	"github.com/tbgw/tbgw/drivers/kit/poll"

	"context"
	"encoding/json"
	"time"

	"github.com/tbgw/tbgw/gw/connector"
)

// maxBackoff caps the delay between polls of an agent that does not answer
// (never shorter than the device's poll period).
const maxBackoff = time.Minute

// poll reads every datapoint of d once and sends what it got. It returns
// an error when the agent could not be reached; kit/poll then backs off
// and reports the device gone.
func (c *Connector) poll(ctx context.Context, out *kit.Sender, w *worker, d *device) error {
	if w.eng == nil {
		e, err := getEngine()
		if err != nil {
			return fmt.Errorf("snmp engine: %w", err)
		}
		w.eng = e
	}
	if err := d.acquire(ctx); err != nil {
		return err
	}
	data, err := c.collect(ctx, w, d)
	if ctx.Err() != nil {
		d.release()
		return ctx.Err()
	}
	if err != nil {
		d.failures++
		d.forget() // rediscover (SNMPv3 engine) once it is back
		d.release()
		return fmt.Errorf("agent %s:%d: %w", d.host, d.port, err)
	}
	d.failures = 0
	d.release()
	if len(data.Attributes)+len(data.Telemetry) == 0 {
		return poll.Unchanged // answered, but nothing readable (a wrong key...)
	}
	items := []connector.Data{data}
	if d.conv != nil || d.pyconv != nil {
		if items = c.convert(d, data); len(items) == 0 {
			return nil
		}
	}
	if err := out.Send(ctx, items); err != nil && ctx.Err() == nil {
		c.log.Warn("data not stored", "device", d.name, "err", err)
	}
	return nil
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
	var out []connector.Data
	var err error
	if d.pyconv != nil {
		var args []byte
		if args, err = json.Marshal(struct {
			Device json.RawMessage `json:"device"`
			Data   map[string]any  `json:"data"`
		}{d.raw, m}); err == nil {
			if out, err = d.pyconv.ConvertCall(args, c.env.Now().UnixMilli()); err == nil {
				return out
			}
		}
	} else if payload, merr := json.Marshal(m); merr != nil {
		err = merr
	} else if out, err = d.conv.Convert(d.name, payload, c.env.Now().UnixMilli()); err == nil {
		return out
	}
	c.log.Warn("converter failed, data dropped", "device", d.name, "err", err)
	return nil
}
