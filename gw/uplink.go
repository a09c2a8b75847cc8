package gw

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tbgw/tbgw/codec/tbjson"
	"github.com/tbgw/tbgw/gw/storage"
	"github.com/tbgw/tbgw/gw/tb"
)

// The uplink loop: the one reader of the event storage. It reads a batch,
// merges its records per device and packs the devices into gateway-API
// messages no larger than the maximum payload (many devices per message),
// publishes them, and acknowledges the batch to the storage only when
// every message of it (and of every earlier batch) was acknowledged by the
// broker.
//
// Coalescing: a full batch goes out at once. A smaller one goes out at
// once too when the previous one left at least the window ago (a lone
// event is not delayed) or when it came after a pause of half a window
// (the source gathered it already: one window end to end, not one per
// stage); otherwise the loop gathers what arrives until the window has
// passed since the previous batch. The window is minPackSendDelayMS less
// the storage's fsync gap. So at
// everyday rates there is at most one round of publishes per window
// instead of one per event, and at high rates batches fill up and nothing
// waits. Up to uplinkWindow batches are in flight.
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
	attrs  int // datapoints of points that are attributes
}

func (g *Gateway) uplink(ctx context.Context) {
	procs := newProcTuner()
	defer procs.restore()
	for ctx.Err() == nil {
		select {
		case <-ctx.Done():
			return
		case <-g.connectedCh():
		}
		g.store.Rewind()
		err := g.uplinkSession(ctx, procs)
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

func (g *Gateway) uplinkSession(ctx context.Context, procs *procTuner) error {
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
			g.stats.attrsSent.Add(uint64(f.attrs))
			g.stats.messages.Add(uint64(len(f.tokens)))
		}
	}()
	defer func() {
		close(inflight)
		<-ackDone
	}()
	var groups groupSet
	var batches []storage.Batch
	var last time.Time    // when the previous round was read
	var arrived time.Time // when the previous batch was available
	for {
		if !g.link.Connected() {
			return errLinkDown
		}
		batch, err := g.store.Next(sctx, g.readBatch, uplinkMaxBytes)
		if err != nil {
			return sessionErr(sctx, err)
		}
		now := time.Now()
		batches = append(batches[:0], batch)
		// A batch after a pause of half a window or more is a burst the
		// source already gathered (a connector reading for the window, or
		// a commit that waited out the fsync gap): it goes at once, or
		// its records would wait a second window here. Batches trickling
		// in faster are gathered until a window has passed since the
		// previous round.
		trickle := now.Sub(arrived) < g.packDelay/2
		arrived = now
		if n := len(batch.Records); n < g.readBatch && g.packDelay > 0 && trickle {
			if wait := g.packDelay - now.Sub(last); wait > 0 {
				if batches, err = g.gather(sctx, batches, n, wait); err != nil {
					return err
				}
			}
		}
		last = time.Now()
		procs.observe(last)
		f, err := g.publishBatch(sctx, &groups, batches)
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

// sessionErr is the error ending a session whose storage read failed.
func sessionErr(sctx context.Context, err error) error {
	if cause := context.Cause(sctx); cause != nil && !errors.Is(cause, context.Canceled) {
		return cause
	}
	return err
}

// gather reads more batches for up to wait, until readBatch records (n so
// far) are together.
func (g *Gateway) gather(sctx context.Context, batches []storage.Batch, n int, wait time.Duration) ([]storage.Batch, error) {
	wctx, cancel := context.WithTimeout(sctx, wait)
	defer cancel()
	for n < g.readBatch {
		b, err := g.store.Next(wctx, g.readBatch-n, uplinkMaxBytes)
		if err != nil {
			if sctx.Err() != nil || !errors.Is(err, context.DeadlineExceeded) {
				return batches, sessionErr(sctx, err)
			}
			break // the window is over
		}
		batches = append(batches, b)
		n += len(b.Records)
	}
	return batches, nil
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
	names  [][]byte // ThingsBoard names of groups
	buf    []byte   // message building space
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

// publishBatch turns batches into messages and publishes them.
func (g *Gateway) publishBatch(ctx context.Context, gs *groupSet, batches []storage.Batch) (flight, error) {
	gs.reset()
	f := flight{last: batches[len(batches)-1].Last()}
	for _, b := range batches {
		f.events += len(b.Records)
		g.stats.pulled.Add(uint64(len(b.Records)))
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
	}
	limit := g.payloadLimit()
	renames := g.reg.hasRenames()
	names := gs.names[:0]
	for i := range gs.groups {
		dev := gs.groups[i].dev
		if renames {
			dev = []byte(g.reg.tbName(string(dev)))
		}
		names = append(names, dev)
	}
	gs.names = names
	var err error
	p := packer{g: g, topic: TopicAttributes, open: '{', close: '}', limit: limit, buf: gs.buf[:0]}
	for i := range gs.groups {
		gr := &gs.groups[i]
		if len(gr.attrs) > 0 {
			f.attrs += gr.share(len(gr.attrs))
			if err = p.add(ctx, names[i], gr.attrs, gr.share(len(gr.attrs))); err != nil {
				return f, err
			}
		}
	}
	if err = p.flush(ctx); err != nil {
		return f, err
	}
	p.topic, p.open, p.close = TopicTelemetry, '[', ']'
	for i := range gs.groups {
		gr := &gs.groups[i]
		if len(gr.teles) > 0 {
			if err = p.add(ctx, names[i], gr.teles, gr.share(len(gr.teles))); err != nil {
				return f, err
			}
		}
	}
	if err = p.flush(ctx); err != nil {
		return f, err
	}
	f.tokens = p.tokens
	gs.buf = p.buf[:0]
	return f, nil
}

// share is the datapoints of n of the group's fragments (shared out
// evenly, at least 1).
func (gr *group) share(n int) int {
	return max(1, gr.points*n/max(1, len(gr.attrs)+len(gr.teles)))
}

// packer builds gateway-API messages of one topic holding many devices,
// `{"devA":[...],"devB":[...]}` (telemetry) or `{"devA":{...}}`
// (attributes), each at most limit bytes unless a single fragment is
// larger, and publishes each one when full.
type packer struct {
	g           *Gateway
	topic       string
	open, close byte // around a device's fragments
	limit       int
	buf         []byte // the message being built; empty if none
	frags       []frag // what buf holds, to build it again smaller
	points      int
	tokens      []Token
}

// frag is one device fragment in the message being built.
type frag struct {
	dev, part []byte
	points    int
}

// add appends a device's fragments carrying points datapoints.
func (p *packer) add(ctx context.Context, dev []byte, parts [][]byte, points int) error {
	if p.limit > 0 {
		if n := len(parts); n > 0 {
			parts = fit(dev, parts, p.open == '{', p.limit)
			if len(parts) != n {
				points = max(points, len(parts))
			}
		}
	}
	per := max(1, points/len(parts))
	inDev := false // dev's entry is open in buf
	for _, part := range parts {
		need := len(part) + 1
		if !inDev {
			need += len(dev) + 8
		}
		if p.limit > 0 && len(p.buf) > 0 && len(p.buf)+need+2 > p.limit {
			if inDev {
				p.buf = append(p.buf, p.close)
				inDev = false
			}
			if err := p.flush(ctx); err != nil {
				return err
			}
		}
		if !inDev {
			if len(p.buf) == 0 {
				p.buf = append(p.buf, '{')
			} else {
				p.buf = append(p.buf, ',')
			}
			p.buf = tbjson.AppendString(p.buf, string(dev))
			p.buf = append(p.buf, ':', p.open)
			inDev = true
		} else {
			p.buf = append(p.buf, ',')
		}
		p.buf = append(p.buf, part...)
		p.frags = append(p.frags, frag{dev, part, per})
		p.points += per
	}
	if inDev {
		p.buf = append(p.buf, p.close)
	}
	return nil
}

// flush publishes the message built so far.
func (p *packer) flush(ctx context.Context) error {
	if len(p.buf) == 0 {
		return nil
	}
	p.buf = append(p.buf, '}')
	// The payload is owned by the publish until it is acknowledged.
	payload := make([]byte, len(p.buf))
	copy(payload, p.buf)
	p.buf = p.buf[:0]
	dp := max(p.points, 1)
	p.points = 0
	frags := p.frags
	p.frags = p.frags[:0]
	t, err := p.g.link.Publish(ctx, p.topic, payload, p.g.qos, dp)
	if errors.Is(err, tb.ErrTooLarge) && (len(frags) > 1 || splittable(frags, p.open == '{')) {
		// ThingsBoard's limit shrank after this message was built (the
		// session limits answer came): build it again, smaller.
		if err := p.repack(ctx, append([]frag(nil), frags...), len(payload)); err != nil {
			return err
		}
		return p.flush(ctx) // what the repacking left in buf

	}
	if errors.Is(err, tb.ErrTooLarge) {
		// It can never be delivered (a single value larger than
		// ThingsBoard accepts): drop it rather than block the log.
		p.g.stats.tooLarge.Add(1)
		p.g.log.Error("dropping a message ThingsBoard cannot accept", "topic", p.topic, "bytes", len(payload))
		return nil
	}
	if err != nil {
		return err
	}
	p.tokens = append(p.tokens, t)
	return nil
}

// splittable reports whether a message of one fragment can be split.
func splittable(frags []frag, attrs bool) bool {
	if len(frags) != 1 {
		return false
	}
	_, _, ok := splitFragment(frags[0].part, attrs)
	return ok
}

// repack adds frags again under the link's current limit, or half the
// refused message's size if the link reports none smaller: every round
// either fits or splits further, down to single values.
func (p *packer) repack(ctx context.Context, frags []frag, size int) error {
	lim := p.g.payloadLimit()
	if lim <= 0 || lim >= size {
		lim = size / 2
	}
	p.limit = lim
	for i := 0; i < len(frags); {
		j, parts, points := i, [][]byte(nil), 0
		for ; j < len(frags) && bytes.Equal(frags[j].dev, frags[i].dev); j++ {
			parts = append(parts, frags[j].part)
			points += frags[j].points
		}
		if err := p.add(ctx, frags[i].dev, parts, points); err != nil {
			return err
		}
		i = j
	}
	return nil
}
