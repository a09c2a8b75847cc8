package mqtt

import (
	"github.com/tbgw/tbgw/drivers/kit/backoff"

	"errors"
	"hash/maphash"
	"time"

	"github.com/tbgw/tbgw/gw/connector"
)

var shardSeed = maphash.MakeSeed()

// onMessage is called by the MQTT client's reader, one message at a time.
// It only routes: messages of one topic always go to the same worker, so
// they are converted, stored and acknowledged in arrival order. When the
// worker's queue is full it blocks, which stops reading from the broker
// (back-pressure) instead of growing memory.
func (r *runState) onMessage(m inbound) {
	defer r.routed.Add(1)
	r.c.stats.Received.Add(1)
	r.rpc.deliver(m.topic, m.payload)
	if r.isData(m.topic) {
		sh := r.shards[0]
		if n := len(r.shards); n > 1 {
			// Switching only while no worker holds a message keeps
			// every topic's messages in order.
			if r.pending.Load() == 0 {
				r.single.Store(r.reads.small.Load())
			}
			if !r.single.Load() {
				sh = r.shards[maphash.String(shardSeed, m.topic)%uint64(n)]
			}
		}
		r.pending.Add(1)
		select {
		case sh <- m:
		case <-r.ctx.Done():
			r.pending.Add(-1)
			// Not acknowledged: the broker redelivers it to a persistent
			// session.
		}
		return
	}
	if r.isRequest(m.topic) {
		// Requests keep their arrival order and are answered
		// asynchronously. They are acknowledged once queued, so a slow
		// ThingsBoard does not hold back the acknowledgements of data.
		select {
		case r.requests <- m:
		case <-r.ctx.Done():
			return
		}
	} else {
		r.c.stats.Unmatched.Add(1)
		r.c.log.Debug("message on a topic with no mapping", "topic", m.topic)
	}
	if m.ack != nil {
		m.ack()
	}
}

func (r *runState) isData(topic string) bool {
	for _, dm := range r.c.plan.maps {
		if dm.filter.match(topic) {
			return true
		}
	}
	return false
}

// worker converts queued messages in batches: all messages taken
// together are converted, stored with one Sink.Send, then acknowledged in
// order. A message is acknowledged only after its data is in the event
// storage, so a crash before that makes the broker deliver it again.
func (r *runState) worker(in <-chan inbound, first bool) {
	batch := make([]inbound, 0, maxBatch)
	for {
		select {
		case m := <-in:
			batch = append(batch, m)
		case <-r.stopping:
			return
		}
		batch = drain(in, batch)
		if len(r.shards) == 1 || first && r.single.Load() {
			batch = r.awaitBurst(in, batch)
		}
		items := make([]connector.Data, 0, len(batch))
		for i := range batch {
			items = r.route(&batch[i], items)
		}
		if len(items) > 0 && !r.store(items) {
			return // stopping: the batch stays unacknowledged
		}
		ackAll(batch)
		r.pending.Add(-int64(len(batch)))
		clear(batch)
		batch = batch[:0]
	}
}

// awaitBurst adds the rest of the read burst to batch: the messages read
// from the socket that the reader is still handing over, so that the
// burst is one Send (one commit) instead of several, each waiting for the
// one before. It waits at most burstWait (a slow hand-over on a busy
// machine, or a packet the client does not pass on, such as a QoS 2
// duplicate).
func (r *runState) awaitBurst(in <-chan inbound, batch []inbound) []inbound {
	var t *time.Timer
	for len(batch) < maxBatch && r.routed.Load() < r.reads.pubs.Load() {
		if t == nil {
			t = time.NewTimer(burstWait)
			defer t.Stop()
		}
		select {
		case m := <-in:
			batch = drain(in, append(batch, m))
		case <-t.C:
			return batch
		}
	}
	return batch
}

// drain appends the queued messages to batch, up to maxBatch.
func drain(in <-chan inbound, batch []inbound) []inbound {
	for len(batch) < maxBatch {
		select {
		case m := <-in:
			batch = append(batch, m)
		default:
			return batch
		}
	}
	return batch
}

// route converts one message with every data mapping whose filter
// matches, appending the data to items.
func (r *runState) route(m *inbound, items []connector.Data) []connector.Data {
	for _, dm := range r.c.plan.maps {
		if dm.filter.match(m.topic) {
			items = r.convert(dm, m, items)
		}
	}
	return items
}

// convert runs one mapping's converter.
func (r *runState) convert(dm *dataMap, m *inbound, items []connector.Data) []connector.Data {
	// nowMs 0: data without its own timestamp is stamped by the gateway,
	// uniquely per device, so ThingsBoard keeps every message.
	out, err := dm.conv.Convert(m.topic, m.payload, 0)
	if err != nil {
		r.c.stats.Malformed.Add(1)
		r.logMalformed(dm, m, err)
		return items
	}
	n := 0
	for i := range out {
		d := &out[i]
		if d.Device == "" || len(d.Attributes)+len(d.Telemetry) == 0 {
			continue
		}
		n += len(d.Attributes) + len(d.Telemetry)
		items = append(items, *d)
	}
	if n > 0 {
		r.c.stats.Converted.Add(1)
		r.c.stats.Datapoints.Add(int64(n))
	}
	return items
}

// logMalformed logs a rejected message, at most once a second; the rest
// are counted in Stats.Malformed and summarized in the next line.
func (r *runState) logMalformed(dm *dataMap, m *inbound, err error) {
	r.logMu.Lock()
	now := time.Now()
	if now.Sub(r.lastMalLog) < time.Second {
		r.suppressed++
		r.logMu.Unlock()
		return
	}
	n := r.suppressed
	r.lastMalLog, r.suppressed = now, 0
	r.logMu.Unlock()
	const maxShown = 256
	p := m.payload
	if len(p) > maxShown {
		p = p[:maxShown]
	}
	r.c.log.Warn("cannot convert message", "topic", m.topic, "mapping", dm.name, "err", err,
		"payload", string(p), "suppressed_since_last", n)
}

// store hands items to the gateway, retrying while the storage is full or
// failing. It returns false when the connector is stopping.
func (r *runState) store(items []connector.Data) bool {
	b := backoff.Policy{Min: 50 * time.Millisecond, Max: 5 * time.Second}.New()
	var lastLog time.Time
	for {
		err := r.sink.Send(r.ctx, items)
		if err == nil {
			return true
		}
		r.c.stats.StoreErrors.Add(1)
		if r.ctx.Err() != nil || errors.Is(err, connector.ErrStopping) {
			return false
		}
		if time.Since(lastLog) > 10*time.Second {
			r.c.log.Warn("cannot store data, retrying; messages stay unacknowledged", "err", err, "devices", len(items))
			lastLog = time.Now()
		}
		if b.Wait(r.ctx) != nil {
			return false
		}
	}
}
