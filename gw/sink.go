package gw

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/tbgw/tbgw/codec/tbjson"
	"github.com/tbgw/tbgw/gw/connector"
	"github.com/tbgw/tbgw/gw/storage"
)

// sink is the connector.Sink given to one running connector.
type sink struct {
	g      *Gateway
	name   string
	id     string
	typ    string
	report *connector.Strategy // connector-level strategy, nil if none
	log    *slog.Logger
	cs     *connStats
}

var (
	_ connector.Sink     = (*sink)(nil)
	_ connector.Windower = (*sink)(nil)
)

// Window is the device side's share of minPackSendDelayMS: the window
// less a tenth of it (at most the storage's fsync gap) for the commit and
// the publish. A connector gathering for this long makes one batch, one
// commit and one uplink round of it: its commit comes a share after the
// previous one, so it does not wait for the fsync gap, and the uplink
// sends a batch after such a pause at once; the stages do not each add a
// window of their own.
func (s *sink) Window() time.Duration { return s.g.gatherFor }

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

// Send filters, stamps and stores items; see connector.Sink.
func (s *sink) Send(ctx context.Context, items []connector.Data) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	g := s.g
	now := g.now()
	bp := bufPool.Get().(*[]byte)
	buf := (*bp)[:0]
	var offs [16]int
	ends := offs[:0]
	received, filtered, withTelemetry := 0, 0, uint64(0)
	for i := range items {
		d := &items[i]
		n := len(d.Attributes) + len(d.Telemetry)
		received += n
		if d.Device == "" || n == 0 {
			s.cs.invalid.Add(1)
			continue
		}
		if !g.filter.Load().Allowed(s.name, d.Device) {
			filtered += n
			continue
		}
		if !g.report.Apply(s.id, s.report, d) {
			filtered += n
			continue
		}
		if len(d.Telemetry) > 0 {
			withTelemetry++
		}
		g.stamp(d, now)
		if dev, announce := g.reg.seen(d.Device, d.Type, s.name, s.id, now); announce {
			g.sendControl(controlMsg{kind: ctlConnect, dev: dev})
		}
		buf, ends = g.encode(buf, ends, d)
	}
	s.cs.items.Add(uint64(len(items)))
	s.cs.received.Add(uint64(received))
	g.stats.filtered.Add(uint64(filtered))
	if len(ends) == 0 {
		*bp = buf
		bufPool.Put(bp)
		return nil
	}
	recs := make([][]byte, len(ends))
	start := 0
	for i, e := range ends {
		recs[i] = buf[start:e]
		start = e
	}
	err := g.store.Append(recs)
	*bp = buf[:0]
	if cap(buf) <= 1<<20 {
		bufPool.Put(bp)
	}
	if err != nil {
		s.cs.addError()
		switch {
		case errors.Is(err, storage.ErrFull):
			g.stats.rejected.Add(uint64(len(recs)))
			return fmt.Errorf("connector %s: %w", s.name, connector.ErrStorageFull)
		case errors.Is(err, storage.ErrClosed):
			return connector.ErrStopping
		}
		return fmt.Errorf("connector %s: storing %d events: %w", s.name, len(recs), err)
	}
	s.cs.stored.Add(uint64(len(recs)))
	if withTelemetry > 0 && s.cs.telemetry.Add(withTelemetry) == withTelemetry {
		// This connector's first telemetry: wake WaitData.
		select {
		case g.firstData <- struct{}{}:
		default:
		}
	}
	g.stats.stored.Add(uint64(len(recs)))
	return nil
}

// encode appends the records of d to buf, splitting d so that no record is
// larger than the maximum payload (unless a single value is).
func (g *Gateway) encode(buf []byte, ends []int, d *connector.Data) ([]byte, []int) {
	start := len(buf)
	buf = tbjson.AppendRecord(buf, d)
	limit := g.payloadLimit()
	n := len(d.Attributes) + len(d.Telemetry)
	if limit <= 0 || len(buf)-start <= limit || n <= 1 {
		return buf, append(ends, len(buf))
	}
	buf = buf[:start]
	// Split: attributes and telemetry halves, recursively.
	var parts [2]connector.Data
	if len(d.Attributes) > 0 && len(d.Telemetry) > 0 {
		parts[0] = connector.Data{Device: d.Device, Type: d.Type, Attributes: d.Attributes}
		parts[1] = connector.Data{Device: d.Device, Type: d.Type, Telemetry: d.Telemetry}
	} else if len(d.Attributes) > 1 {
		h := len(d.Attributes) / 2
		parts[0] = connector.Data{Device: d.Device, Type: d.Type, Attributes: d.Attributes[:h]}
		parts[1] = connector.Data{Device: d.Device, Type: d.Type, Attributes: d.Attributes[h:]}
	} else {
		h := len(d.Telemetry) / 2
		parts[0] = connector.Data{Device: d.Device, Type: d.Type, Telemetry: d.Telemetry[:h]}
		parts[1] = connector.Data{Device: d.Device, Type: d.Type, Telemetry: d.Telemetry[h:]}
	}
	buf, ends = g.encode(buf, ends, &parts[0])
	return g.encode(buf, ends, &parts[1])
}

// stamp gives telemetry without a timestamp the receive time, unique per
// device: a later message of the same device in the same millisecond gets
// the next millisecond, so ThingsBoard keeps every message.
func (g *Gateway) stamp(d *connector.Data, now time.Time) {
	need := false
	for i := range d.Telemetry {
		if d.Telemetry[i].TS == 0 {
			need = true
			break
		}
	}
	if !need {
		return
	}
	ms := now.UnixMilli()
	g.tsMu.Lock()
	if last := g.lastTS[d.Device]; ms <= last {
		ms = last + 1
	}
	g.lastTS[d.Device] = ms
	if ms-g.tsPruned >= stampKeepMS {
		g.pruneStampsLocked(ms - stampKeepMS)
		g.tsPruned = ms
	}
	g.tsMu.Unlock()
	for i := range d.Telemetry {
		if d.Telemetry[i].TS == 0 {
			d.Telemetry[i].TS = ms
		}
	}
}

// stampKeepMS is how long a device's last stamp is kept (ms): a stamp
// matters only while it is ahead of the clock (several messages in one
// millisecond) or the clock steps back. stamp prunes the older ones
// itself, at most once per stampKeepMS: no timer runs for them, and the
// map holds the devices stamped within two such periods at most.
const stampKeepMS = 60_000

// pruneStampsLocked forgets per-device stamps older than cutoff (ms).
// Called with tsMu held.
func (g *Gateway) pruneStampsLocked(cutoff int64) {
	for dev, ts := range g.lastTS {
		if ts < cutoff {
			delete(g.lastTS, dev)
		}
	}
}

// Connect announces a device without data.
func (s *sink) Connect(ctx context.Context, name, typ string) error {
	if name == "" {
		return errors.New("connect: empty device name")
	}
	if !s.g.filter.Load().Allowed(s.name, name) {
		return nil
	}
	if dev, announce := s.g.reg.seen(name, typ, s.name, s.id, s.g.now()); announce {
		s.g.sendControl(controlMsg{kind: ctlConnect, dev: dev})
	}
	return nil
}

// Disconnect reports a device gone.
func (s *sink) Disconnect(ctx context.Context, name string) error {
	if dev, ok := s.g.reg.markGone(name); ok {
		s.g.sendControl(controlMsg{kind: ctlDisconnect, dev: dev})
	}
	return nil
}

// RequestAttributes asks ThingsBoard for attributes of a device.
func (s *sink) RequestAttributes(ctx context.Context, name string, client bool, keys []string) (map[string]any, error) {
	if !s.g.link.Connected() {
		return nil, fmt.Errorf("attribute request for %s: not connected to ThingsBoard", name)
	}
	return s.g.link.RequestDeviceAttributes(ctx, s.g.reg.tbName(name), client, keys)
}

// resend stores periodic report re-sends of a connector (by id).
func (g *Gateway) resend(connID string, items []connector.Data) {
	s := g.sinkByID(connID)
	if s == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Send(ctx, items); err != nil {
		s.log.Warn("storing periodic report", "err", err)
	}
}

// Claim publishes a claiming request for a device (v1/gateway/claim).
func (s *sink) Claim(ctx context.Context, name, secretKey string, duration time.Duration) error {
	if !s.g.link.Connected() {
		return fmt.Errorf("claim for %s: not connected to ThingsBoard", name)
	}
	b, err := json.Marshal(map[string]any{s.g.reg.tbName(name): map[string]any{"secretKey": secretKey, "durationMs": duration.Milliseconds()}})
	if err != nil {
		return err
	}
	t, err := s.g.link.Publish(ctx, TopicClaim, b, 1, 1)
	if err != nil {
		return fmt.Errorf("claim for %s: %w", name, err)
	}
	return t.Wait(ctx)
}
