package modbus

import (
	"fmt"

	"github.com/tbgw/tbgw/drivers/kit"
	"github.com/tbgw/tbgw/drivers/kit/poll"

	"context"
	"errors"
	"log/slog"
	"time"

	mb "github.com/tbgw/tbgw/codec/modbus"
	"github.com/tbgw/tbgw/gw/connector"
)

// device polls one configured slave and serves its downlink.
type device struct {
	def      *slaveDef
	m        *master
	log      *slog.Logger
	now      func() time.Time
	opts     reqOpts
	blocks   []block
	readings []mb.Reading // attributes, then telemetry
	nAttr    int

	// Owned by the polling goroutine.
	attempts    int
	lastAttempt time.Time
	warned      map[string]bool // tag keys whose decode error was logged
}

func newDevice(def *slaveDef, m *master, log *slog.Logger, now func() time.Time) *device {
	d := &device{
		def: def, m: m, now: now,
		log:  log.With("device", def.name),
		opts: reqOpts{timeout: def.timeout, retries: def.retries, delay: def.delay},
	}
	d.nAttr = len(def.dev.Attributes)
	d.readings = make([]mb.Reading, d.nAttr+len(def.dev.Telemetry))
	spans := make([]span, 0, len(d.readings))
	for i, t := range append(append([]mb.Tag(nil), def.dev.Attributes...), def.dev.Telemetry...) {
		spans = append(spans, span{fc: t.Function, addr: int(t.Address), count: t.Count, cap: def.caps[i], ref: i})
	}
	d.blocks = planReads(spans, def.coalesce)
	return d
}

// polled reports whether the device has anything to read.
func (d *device) polled() bool { return len(d.readings) > 0 }

// mayAttempt applies connectAttemptTimeMs, connectAttemptCount and
// waitAfterFailedAttemptsMs to connection attempts.
func (d *device) mayAttempt(now time.Time) bool {
	if d.attempts >= d.def.attempts {
		if now.Sub(d.lastAttempt) < d.def.backoff {
			return false
		}
		d.attempts = 0
	}
	return d.lastAttempt.IsZero() || now.Sub(d.lastAttempt) >= d.def.attemptGap
}

// poll reads the device once (kit/poll calls it every pollPeriod, never
// twice at once) and sends what it read. It returns an error when the
// device could not be reached, and poll.Unchanged while the connection
// attempt settings hold the next attempt back.
func (d *device) poll(ctx context.Context, out *kit.Sender) error {
	if !d.m.connected() {
		now := time.Now()
		if !d.mayAttempt(now) {
			return poll.Unchanged
		}
		d.attempts++
		d.lastAttempt = now
		if err := d.m.connect(ctx, d.def.timeout); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if d.attempts >= d.def.attempts {
				d.log.Warn("cannot connect; waiting before trying again", "err", err,
					"attempts", d.attempts, "wait", d.def.backoff)
			}
			return fmt.Errorf("connect: %w", err)
		}
	}
	d.attempts = 0
	answered, err := d.readAll(ctx)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if !answered {
		return err
	}
	ts := d.now().UnixMilli()
	if d.def.pyconv != nil {
		return d.sendConverted(ctx, out, ts)
	}
	data, errs := d.def.dev.Convert(d.readings[:d.nAttr], d.readings[d.nAttr:], ts)
	for _, e := range errs {
		d.logTagError(e)
	}
	if len(data.Attributes)+len(data.Telemetry) == 0 {
		return nil
	}
	if err := out.Send(ctx, []connector.Data{data}); err != nil && ctx.Err() == nil {
		d.log.Warn("data not stored", "err", err)
	}
	return nil
}

func (d *device) logTagError(err error) {
	if d.warned == nil {
		d.warned = map[string]bool{}
	}
	msg := err.Error()
	if d.warned[msg] {
		d.log.Debug("value skipped", "err", err)
		return
	}
	if len(d.warned) > 256 {
		clear(d.warned)
	}
	d.warned[msg] = true
	d.log.Warn("value skipped", "err", err)
}

// readAll runs the read plan. answered is true when the device answered
// at least one request (an exception answers too). After a request without
// an answer the rest of the cycle is skipped: the device is gone, and
// waiting for each of its requests to time out would only block the line.
func (d *device) readAll(ctx context.Context) (answered bool, err error) {
	for i := range d.readings {
		d.readings[i] = mb.Reading{}
	}
	for i := 0; i < len(d.blocks); i++ {
		b := &d.blocks[i]
		err = d.m.read(ctx, d.def.unit, b.fc, uint16(b.start), b.qty, d.opts, &b.regs, &b.bits)
		var ex *mb.Exception
		switch {
		case err == nil:
			answered = true
			for _, s := range b.spans {
				off := s.addr - b.start
				if mb.IsBitFunction(b.fc) {
					d.readings[s.ref] = mb.Reading{Bits: b.bits[off : off+s.count]}
				} else {
					d.readings[s.ref] = mb.Reading{Regs: b.regs[off : off+s.count]}
				}
			}
		case errors.As(err, &ex):
			answered = true
			if len(b.spans) > 1 && (ex.Code == mb.IllegalDataAddress || ex.Code == mb.IllegalDataValue || ex.Code == mb.ServerDeviceFailure) {
				d.log.Info("device refused a combined read; reading its tags one by one from now on",
					"function", b.fc, "address", b.start, "count", b.qty, "err", err)
				d.blocks = split(d.blocks, i)
				i--
				continue
			}
			for _, s := range b.spans {
				d.readings[s.ref].Err = err
			}
		default:
			for _, rest := range d.blocks[i:] {
				for _, s := range rest.spans {
					d.readings[s.ref].Err = err
				}
			}
			return answered, err
		}
	}
	return answered, nil
}

// readTag reads one tag now (RPC).
func (d *device) readTag(ctx context.Context, t *mb.Tag) (any, error) {
	var regs []uint16
	var bits []bool
	if err := d.m.read(ctx, d.def.unit, t.Function, t.Address, t.Count, d.opts, &regs, &bits); err != nil {
		return nil, err
	}
	return t.Decode(mb.Reading{Regs: regs, Bits: bits}, d.def.order)
}

// writeTag converts and writes one value (attribute update, RPC).
func (d *device) writeTag(ctx context.Context, t *mb.Tag, v any) error {
	if d.def.pydown != nil {
		return d.pyWrite(ctx, t, v)
	}
	if d.def.repack != t.Repack {
		rt := *t
		rt.Repack = d.def.repack
		t = &rt
	}
	w, err := t.EncodeWrite(v, d.def.order)
	if err != nil {
		return err
	}
	d.log.Debug("write", "key", t.Key, "request", w.String())
	return d.m.write(ctx, d.def.unit, w, d.opts)
}
