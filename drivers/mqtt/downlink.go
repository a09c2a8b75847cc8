package mqtt

import (
	"github.com/tbgw/tbgw/drivers/kit/rpcparams"

	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tbgw/tbgw/codec/tmpl"
	"github.com/tbgw/tbgw/gw/connector"
)

// OnAttributes publishes shared attribute updates to the device broker
// through every attributeUpdates entry whose deviceNameFilter matches the
// device and whose attributeFilter matches the key (both anchored at the
// start, like Python's re.match).
func (c *Connector) OnAttributes(ctx context.Context, device string, values map[string]any) error {
	r := c.run.Load()
	if r == nil {
		return errors.New("not running")
	}
	keys := make([]string, 0, len(values))
	for k := range values {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var errs []error
	sent := 0
	for _, u := range c.plan.attrUpds {
		if !u.device.Match(device) {
			continue
		}
		for _, k := range keys {
			if !u.attr.Match(k) {
				continue
			}
			v := &tmpl.Vars{Device: device, Key: k, Value: values[k]}
			topic := u.topic.Topic(v)
			payload := u.value.Payload(v)
			if err := r.publish(ctx, topic, u.qos, u.retain, []byte(payload)); err != nil {
				errs = append(errs, fmt.Errorf("device %q: attribute %q to %q: %w", device, k, topic, err))
				continue
			}
			sent++
			c.log.Debug("attribute update published", "device", device, "key", k, "topic", topic)
		}
	}
	if sent == 0 && len(errs) == 0 {
		c.log.Debug("attribute update matched no attributeUpdates entry", "device", device, "keys", keys)
	}
	return errors.Join(errs...)
}

// OnRPC serves a server-side RPC: a configured serverSideRpc route, the
// reserved get/set methods whose params describe the request, or a
// connector RPC (no device) whose params are a route.
func (c *Connector) OnRPC(ctx context.Context, req connector.RPC) (any, error) {
	r := c.run.Load()
	if r == nil {
		return nil, errors.New("not running")
	}
	method := req.Method
	if t, m, ok := strings.Cut(method, "_"); ok && t == "mqtt" && !strings.Contains(m, "_") {
		method = m
	}
	var route *rpcRoute
	var err error
	switch {
	case req.Device == "":
		route, err = adhocRoute(req.Params, false)
	case method == "get" || method == "set":
		route, err = adhocRoute(req.Params, true)
	default:
		for _, rr := range c.plan.rpcs {
			if rr.device.Search(req.Device) && rr.method.Search(method) {
				route = rr
				break
			}
		}
		if route == nil {
			return nil, fmt.Errorf("device %q: no serverSideRpc entry for method %q", req.Device, method)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("device %q: RPC %q: %w", req.Device, req.Method, err)
	}
	return r.doRPC(ctx, route, req, method)
}

// adhocRoute builds a route from RPC params: the "k=v;k=v;" string of the
// reserved get/set methods, or a JSON object (connector RPC).
func adhocRoute(params json.RawMessage, reserved bool) (*rpcRoute, error) {
	var rc rpcConf
	var s string
	if reserved && json.Unmarshal(params, &s) == nil {
		p := rpcparams.Parse(s)
		for _, k := range p.Keys() {
			v, _ := p.Get(k)
			if v == "" {
				continue
			}
			switch k {
			case "requestTopicExpression":
				rc.RequestTopicExpression = v
			case "responseTopicExpression":
				rc.ResponseTopicExpression = v
			case "value", "valueExpression":
				rc.ValueExpression = v
			case "responseTimeout":
				rc.ResponseTimeout = json.Number(strings.TrimSpace(v))
			case "responseTopicQoS":
				q, err := strconv.Atoi(strings.TrimSpace(v))
				if err != nil {
					return nil, fmt.Errorf("responseTopicQoS: %v", err)
				}
				rc.ResponseTopicQoS = &q
			case "qos":
				q, err := strconv.Atoi(strings.TrimSpace(v))
				if err != nil {
					return nil, fmt.Errorf("qos: %v", err)
				}
				rc.QoS = q
			case "retain":
				rc.Retain = strings.EqualFold(strings.TrimSpace(v), "true")
			}
		}
	} else {
		var obj struct {
			rpcConf
			Value string `json:"value"`
		}
		if err := json.Unmarshal(params, &obj); err != nil {
			return nil, fmt.Errorf("params must be a request description: %v", err)
		}
		rc = obj.rpcConf
		if rc.ValueExpression == "" {
			rc.ValueExpression = obj.Value
		}
	}
	return compileRPC(&rc, true)
}

// doRPC publishes the request and, for two-way routes, waits for the
// first message on the response topic.
func (r *runState) doRPC(ctx context.Context, route *rpcRoute, req connector.RPC, method string) (any, error) {
	c := r.c
	v := &tmpl.Vars{Device: req.Device, Method: method, RequestID: strconv.FormatInt(req.ID, 10), Params: req.Params}
	topic := route.reqTopic.Topic(v)
	payload := route.value.Payload(v)
	fail := func(err error) error {
		return fmt.Errorf("device %q: RPC %q: %w", req.Device, req.Method, err)
	}

	var w *rpcWaiter
	if route.respTopic != nil {
		respTopic := route.respTopic.Topic(v)
		f, err := compileFilter(respTopic)
		if err != nil || !f.exact {
			return nil, fail(fmt.Errorf("bad response topic %q", respTopic))
		}
		w = r.rpc.add(respTopic, route.respQoS)
		defer r.unwait(w)
		if s := r.session(); s != nil && r.rpc.first(w) && !r.isConfiguredSub(respTopic) {
			if err := s.subscribe(ctx, respTopic, route.respQoS); err != nil {
				return nil, fail(fmt.Errorf("subscribe to response topic %q: %w", respTopic, err))
			}
		}
	}
	if err := r.publish(ctx, topic, route.qos, route.retain, []byte(payload)); err != nil {
		return nil, fail(fmt.Errorf("publish to %q: %w", topic, err))
	}
	c.log.Debug("RPC request published", "device", req.Device, "method", method, "topic", topic)
	if w == nil {
		return map[string]any{"success": true}, nil
	}
	t := time.NewTimer(route.timeout)
	defer t.Stop()
	select {
	case b := <-w.ch:
		return rpcResponse(b), nil
	case <-t.C:
		return nil, fail(fmt.Errorf("no response on %q within %v", w.topic, route.timeout))
	case <-ctx.Done():
		return nil, fail(ctx.Err())
	}
}

// rpcResponse turns a device's response into the RPC reply data: JSON when
// it parses (single quotes read as double quotes, as upstream), else the
// text.
func rpcResponse(b []byte) any {
	if json.Valid(b) {
		return json.RawMessage(b)
	}
	if q := []byte(strings.ReplaceAll(string(b), "'", `"`)); json.Valid(q) {
		return json.RawMessage(q)
	}
	return string(b)
}

func (r *runState) isConfiguredSub(topic string) bool {
	for _, s := range r.c.plan.subs {
		if s.filter == topic {
			return true
		}
	}
	return false
}

// unwait removes a waiter and unsubscribes its topic when it was the last.
func (r *runState) unwait(w *rpcWaiter) {
	if !r.rpc.remove(w) || r.isConfiguredSub(w.topic) {
		return
	}
	if s := r.session(); s != nil {
		ctx, cancel := context.WithTimeout(r.ctx, 5*time.Second)
		defer cancel()
		if err := s.unsubscribe(ctx, w.topic); err != nil {
			r.c.log.Debug("unsubscribe from response topic failed", "topic", w.topic, "err", err)
		}
	}
}

// rpcWaiters are the two-way RPCs waiting for a response, by topic, in
// arrival order.
type rpcWaiters struct {
	mu sync.Mutex
	m  map[string][]*rpcWaiter
	n  atomic.Int32 // len(m), read without the lock on the message path
}

type rpcWaiter struct {
	topic string
	qos   byte
	ch    chan []byte
}

func (w *rpcWaiters) init() { w.m = map[string][]*rpcWaiter{} }

func (w *rpcWaiters) add(topic string, qos byte) *rpcWaiter {
	x := &rpcWaiter{topic: topic, qos: qos, ch: make(chan []byte, 1)}
	w.mu.Lock()
	w.m[topic] = append(w.m[topic], x)
	w.n.Store(int32(len(w.m)))
	w.mu.Unlock()
	return x
}

// first reports whether x is the only waiter on its topic (so the topic
// needs subscribing).
func (w *rpcWaiters) first(x *rpcWaiter) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.m[x.topic]) == 1
}

// remove drops x and reports whether no waiter is left on its topic.
func (w *rpcWaiters) remove(x *rpcWaiter) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	l := w.m[x.topic]
	for i, y := range l {
		if y == x {
			l = append(l[:i], l[i+1:]...)
			break
		}
	}
	if len(l) == 0 {
		delete(w.m, x.topic)
	} else {
		w.m[x.topic] = l
	}
	w.n.Store(int32(len(w.m)))
	return len(l) == 0
}

// deliver gives payload to the oldest waiter on topic, if any.
func (w *rpcWaiters) deliver(topic string, payload []byte) {
	if w.n.Load() == 0 {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	l := w.m[topic]
	if len(l) == 0 {
		return
	}
	x := l[0]
	w.m[topic] = l[1:]
	if len(l) == 1 {
		delete(w.m, topic)
		w.n.Store(int32(len(w.m)))
	}
	select {
	case x.ch <- append([]byte(nil), payload...):
	default:
	}
}

// topics lists the response topics in use, for re-subscribing after a
// reconnect.
func (w *rpcWaiters) topics() []subscription {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]subscription, 0, len(w.m))
	for t, l := range w.m {
		out = append(out, subscription{t, l[0].qos})
	}
	return out
}
