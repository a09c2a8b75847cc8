package gw

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tbgw/tbgw/codec/tbjson"
	"github.com/tbgw/tbgw/gw/storage"
	"github.com/tbgw/tbgw/gw/tb"
)

// The uplink loop: the one reader of the event storage. It reads a batch,
// merges its records per device into gateway-API messages no larger than
// the maximum payload, publishes them, and acknowledges the batch to the
// storage only when every message of it (and of every earlier batch) was
// acknowledged by the broker. Up to uplinkWindow batches are in flight.
// When a publish fails or the connection drops, the loop waits for the next
// connection, rewinds the storage to the last acknowledged record and
// starts again from there: nothing acknowledged is lost, and duplicates are
// bounded by the in-flight window.

const (
	uplinkWindow   = 8
	uplinkMaxBytes = 4 << 20
)

var errLinkDown = errors.New("not connected to ThingsBoard")

type flight struct {
	last   uint64
	tokens []Token
	events int
	points int
}

func (g *Gateway) uplink(ctx context.Context) {
	for ctx.Err() == nil {
		select {
		case <-ctx.Done():
			return
		case <-g.connectedCh():
		}
		g.store.Rewind()
		err := g.uplinkSession(ctx)
		if ctx.Err() != nil {
			return
		}
		g.log.Debug("uplink session ended", "err", err)
		// Give the link a moment to notice the loss before retrying.
		t := time.NewTimer(50 * time.Millisecond)
		select {
		case <-ctx.Done():
		case <-t.C:
		}
		t.Stop()
	}
}

func (g *Gateway) uplinkSession(ctx context.Context) error {
	sctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	inflight := make(chan flight, uplinkWindow)
	ackDone := make(chan struct{})
	go func() {
		defer close(ackDone)
		failed := false
		for f := range inflight {
			if failed {
				continue
			}
			for _, t := range f.tokens {
				if err := t.Wait(sctx); err != nil {
					failed = true
					cancel(fmt.Errorf("publish: %w", err))
					break
				}
			}
			if failed {
				continue
			}
			if err := g.store.Ack(f.last); err != nil {
				g.log.Error("storage ack", "seq", f.last, "err", err)
			}
			g.stats.sent.Add(uint64(f.events))
			g.stats.pointsSent.Add(uint64(f.points))
			g.stats.messages.Add(uint64(len(f.tokens)))
		}
	}()
	defer func() {
		close(inflight)
		<-ackDone
	}()
	var groups groupSet
	for {
		if !g.link.Connected() {
			return errLinkDown
		}
		batch, err := g.store.Next(sctx, g.readBatch, uplinkMaxBytes)
		if err != nil {
			if cause := context.Cause(sctx); cause != nil && !errors.Is(cause, context.Canceled) {
				return cause
			}
			return err
		}
		f, err := g.publishBatch(sctx, &groups, batch)
		if err != nil {
			return err
		}
		select {
		case inflight <- f:
		case <-sctx.Done():
			return context.Cause(sctx)
		}
	}
}

// group collects the fragments of one device within a batch.
type group struct {
	dev    []byte
	attrs  [][]byte
	teles  [][]byte
	points int
}

type groupSet struct {
	idx    map[string]int
	groups []group
}

func (s *groupSet) reset() {
	if s.idx == nil {
		s.idx = map[string]int{}
	}
	clear(s.idx)
	for i := range s.groups {
		s.groups[i] = group{attrs: s.groups[i].attrs[:0], teles: s.groups[i].teles[:0]}
	}
	s.groups = s.groups[:0]
}

func (s *groupSet) add(ev tbjson.Event) {
	i, ok := s.idx[string(ev.Device)]
	if !ok {
		i = len(s.groups)
		s.idx[string(ev.Device)] = i
		if i < cap(s.groups) {
			s.groups = s.groups[:i+1]
		} else {
			s.groups = append(s.groups, group{})
		}
		s.groups[i].dev = ev.Device
	}
	gr := &s.groups[i]
	if len(ev.Attributes) > 0 {
		gr.attrs = append(gr.attrs, ev.Attributes)
	}
	if len(ev.Telemetry) > 0 {
		gr.teles = append(gr.teles, ev.Telemetry)
	}
	gr.points += ev.Points
}

// publishBatch turns a batch into messages and publishes them.
func (g *Gateway) publishBatch(ctx context.Context, gs *groupSet, b storage.Batch) (flight, error) {
	gs.reset()
	f := flight{last: b.Last(), events: len(b.Records)}
	for _, rec := range b.Records {
		ev, err := tbjson.DecodeRecord(rec)
		if err != nil {
			g.stats.corrupt.Add(1)
			g.log.Warn("skipping undecodable stored event", "err", err)
			continue
		}
		gs.add(ev)
		f.points += ev.Points
	}
	limit := int(g.maxPayload.Load())
	renames := g.reg.hasRenames()
	for i := range gs.groups {
		gr := &gs.groups[i]
		dev := gr.dev
		if renames {
			dev = []byte(g.reg.tbName(string(dev)))
		}
		overhead := len(dev) + 16
		var err error
		if len(gr.attrs) > 0 {
			f.tokens, err = g.publishParts(ctx, f.tokens, TopicAttributes, dev, gr.attrs, overhead, limit, gr.points, tbjson.AppendAttributesMessage)
			if err != nil {
				return f, err
			}
		}
		if len(gr.teles) > 0 {
			f.tokens, err = g.publishParts(ctx, f.tokens, TopicTelemetry, dev, gr.teles, overhead, limit, gr.points, tbjson.AppendTelemetryMessage)
			if err != nil {
				return f, err
			}
		}
	}
	return f, nil
}

type assembleFunc func(dst []byte, device []byte, parts ...[]byte) []byte

// publishParts packs fragments into messages of at most limit bytes.
func (g *Gateway) publishParts(ctx context.Context, tokens []Token, topic string, dev []byte, parts [][]byte, overhead, limit, points int, assemble assembleFunc) ([]Token, error) {
	start, size := 0, overhead
	flush := func(end int) error {
		if end <= start {
			return nil
		}
		n := size
		payload := assemble(make([]byte, 0, n), dev, parts[start:end]...)
		// Datapoints are counted per device group; share them out evenly.
		dp := points * (end - start) / len(parts)
		if dp < 1 {
			dp = 1
		}
		t, err := g.link.Publish(ctx, topic, payload, g.qos, dp)
		if errors.Is(err, tb.ErrTooLarge) {
			// It can never be delivered (a single value larger than
			// ThingsBoard accepts): drop it rather than block the log.
			g.stats.tooLarge.Add(1)
			g.log.Error("dropping a message ThingsBoard cannot accept", "topic", topic, "device", string(dev), "bytes", len(payload))
			start, size = end, overhead
			return nil
		}
		if err != nil {
			return err
		}
		tokens = append(tokens, t)
		start, size = end, overhead
		return nil
	}
	for i, p := range parts {
		if limit > 0 && i > start && size+len(p)+1 > limit {
			if err := flush(i); err != nil {
				return tokens, err
			}
		}
		size += len(p) + 1
	}
	if err := flush(len(parts)); err != nil {
		return tokens, err
	}
	return tokens, nil
}
