package gw

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/tbgw/tbgw/codec/tbjson"
	"github.com/tbgw/tbgw/gw/connector"
)

// Downlink: messages from ThingsBoard are queued (bounded) by the link's
// callback and served by a few workers, so a slow RPC never blocks the MQTT
// client or other RPCs.

const (
	rpcDefaultTimeout = 10 * time.Second
	// rpcDeviceWait is how long an RPC for a device not (yet) known waits
	// for it to appear before it is answered with an error.
	rpcDeviceWait = 5 * time.Second
)

type inbound struct {
	topic   string
	payload []byte
	at      time.Time
}

func (g *Gateway) onMessage(topic string, payload []byte) {
	g.stats.received.Add(1)
	select {
	case g.downlink <- inbound{topic: topic, payload: append([]byte(nil), payload...), at: g.now()}:
	default:
		g.log.Warn("downlink queue full, message dropped", "topic", topic)
	}
}

func (g *Gateway) downlinkWorker(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case m := <-g.downlink:
			g.serveInbound(ctx, m)
		}
	}
}

func (g *Gateway) serveInbound(ctx context.Context, m inbound) {
	switch {
	case m.topic == TopicAttributes:
		var msg struct {
			Device string         `json:"device"`
			Data   map[string]any `json:"data"`
		}
		if err := connector.DecodeExact(m.payload, &msg); err != nil || msg.Device == "" {
			g.log.Debug("ignoring attribute message that is not an update", "payload", string(m.payload), "err", err)
			return
		}
		g.deliverAttributes(ctx, msg.Device, connector.Exact(msg.Data).(map[string]any))
	case m.topic == TopicGatewayRPC:
		g.serveDeviceRPC(ctx, m)
	case strings.HasPrefix(m.topic, TopicOwnRPCReq):
		g.serveGatewayRPC(ctx, m)
	case m.topic == TopicOwnAttributes:
		g.serveOwnAttributes(m.payload)
	case strings.HasPrefix(m.topic, "v2/fw/response/"):
		g.otaChunkIn(m.topic, m.payload)
	default:
		g.log.Debug("unhandled message from ThingsBoard", "topic", m.topic)
	}
}

// deliverAttributes passes shared attribute updates to the owning connector.
func (g *Gateway) deliverAttributes(ctx context.Context, tbName string, data map[string]any) {
	dev, ok := g.reg.lookup(tbName)
	if !ok {
		g.log.Debug("attribute update for unknown device", "device", tbName)
		return
	}
	r := g.runningByName(dev.Connector)
	if r == nil {
		return
	}
	h, ok := r.conn.(connector.AttributeHandler)
	if !ok {
		return
	}
	lctx, leave, live := r.enter(ctx)
	if !live {
		r.cs.addError()
		r.log.Warn("attribute update not applied", "device", dev.Name, "err", r.notRunning())
		return
	}
	defer leave()
	actx, cancel := context.WithTimeout(lctx, rpcDefaultTimeout)
	defer cancel()
	if err := h.OnAttributes(actx, dev.Name, data); err != nil {
		r.cs.addError()
		r.log.Warn("attribute update failed", "device", dev.Name, "err", err)
	}
}

func (g *Gateway) serveDeviceRPC(ctx context.Context, m inbound) {
	var msg struct {
		Device string `json:"device"`
		Data   struct {
			ID      json.Number     `json:"id"`
			Method  string          `json:"method"`
			Params  json.RawMessage `json:"params"`
			Timeout json.Number     `json:"timeout"`
		} `json:"data"`
	}
	if err := json.Unmarshal(m.payload, &msg); err != nil || msg.Device == "" {
		g.log.Warn("bad RPC from ThingsBoard", "payload", string(m.payload), "err", err)
		return
	}
	id, _ := msg.Data.ID.Int64()
	reply := func(data any) {
		b, err := tbjson.Marshal(map[string]any{"device": msg.Device, "id": id, "data": data})
		if err != nil {
			b, _ = json.Marshal(map[string]any{"device": msg.Device, "id": id, "data": map[string]any{"success": false, "error": err.Error()}})
		}
		g.publishReply(ctx, TopicGatewayRPC, b)
	}
	dev, ok := g.reg.lookup(msg.Device)
	for wait := m.at.Add(rpcDeviceWait); !ok && g.now().Before(wait); dev, ok = g.reg.lookup(msg.Device) {
		select {
		case <-ctx.Done():
			return
		case <-time.After(100 * time.Millisecond):
		}
	}
	if !ok {
		reply(map[string]any{"error": "Request timeout", "code": 408})
		return
	}
	r := g.runningByName(dev.Connector)
	h, isRPC := connector.RPCHandler(nil), false
	if r != nil {
		h, isRPC = r.conn.(connector.RPCHandler)
	}
	if !isRPC {
		reply(map[string]any{"success": false, "error": fmt.Sprintf("connector %q of device %q does not take RPCs", dev.Connector, dev.Name)})
		return
	}
	timeout := rpcDefaultTimeout
	if ms, err := msg.Data.Timeout.Int64(); err == nil && ms > 0 {
		timeout = time.Duration(ms) * time.Millisecond
	}
	params := msg.Data.Params
	if len(params) == 0 {
		params = json.RawMessage("null")
	}
	lctx, leave, live := r.enter(ctx)
	if !live {
		r.cs.addError()
		reply(map[string]any{"success": false, "error": r.notRunning().Error()})
		return
	}
	defer leave()
	rctx, cancel := context.WithTimeout(lctx, timeout)
	defer cancel()
	method := ReservedMethod(r.cfg.Type, msg.Data.Method)
	res, err := h.OnRPC(rctx, connector.RPC{Device: dev.Name, ID: id, Method: method, Params: params, Timeout: timeout})
	if err != nil {
		r.cs.addError()
		if errors.Is(err, context.DeadlineExceeded) {
			reply(map[string]any{"success": false, "error": "Timeout rpc has been reached for " + dev.Name})
			return
		}
		reply(map[string]any{"success": false, "error": err.Error()})
		return
	}
	if res == nil {
		res = map[string]any{"success": true}
	}
	reply(res)
}

// ReservedMethod maps the reserved device RPC methods "<type>_get" and
// "<type>_set" (any case) to "get" and "set"; other methods are unchanged.
func ReservedMethod(connType, method string) string {
	if p, op, ok := strings.Cut(method, "_"); ok && strings.EqualFold(p, connType) {
		switch lop := strings.ToLower(op); lop {
		case "get", "set":
			return lop
		}
	}
	return method
}

// publishReply sends an RPC reply; replies are not stored, they are only
// meaningful while ThingsBoard waits.
func (g *Gateway) publishReply(ctx context.Context, topic string, payload []byte) {
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	t, err := g.link.Publish(pctx, topic, payload, 1, 1)
	if err == nil {
		err = t.Wait(pctx)
	}
	if err != nil {
		g.log.Warn("sending RPC reply", "topic", topic, "err", err)
	}
}

// serveGatewayRPC handles v1/devices/me/rpc/request/<id>.
func (g *Gateway) serveGatewayRPC(ctx context.Context, m inbound) {
	idStr := strings.TrimPrefix(m.topic, TopicOwnRPCReq)
	var msg struct {
		Method string          `json:"method"`
		Params json.RawMessage `json:"params"`
	}
	if err := json.Unmarshal(m.payload, &msg); err != nil {
		g.log.Warn("bad gateway RPC", "payload", string(m.payload), "err", err)
		return
	}
	if msg.Method == "getSessionLimits" {
		// Our own client-side request echoed by a plain broker.
		return
	}
	res := g.gatewayRPC(ctx, idStr, msg.Method, msg.Params)
	b, err := tbjson.Marshal(res)
	if err != nil {
		b, _ = json.Marshal(map[string]any{"error": err.Error(), "code": 500})
	}
	g.publishReply(ctx, TopicOwnRPCResp+idStr, b)
}

func (g *Gateway) gatewayRPC(ctx context.Context, idStr, method string, params json.RawMessage) any {
	if shellMethods[method] {
		return g.shellRPC(method, params)
	}
	prefix, rest, _ := strings.Cut(method, "_")
	if prefix == "gateway" {
		return g.serviceRPC(ctx, rest, params)
	}
	// A connector type: every connector of that type gets the call.
	var targets []*running
	g.runMu.Lock()
	for _, r := range g.running {
		if r.cfg.Type == prefix {
			targets = append(targets, r)
		}
	}
	g.runMu.Unlock()
	if len(targets) == 0 {
		return map[string]any{"error": prefix + " - connector not found in available connectors.", "code": 404}
	}
	id, _ := strconv.ParseInt(idStr, 10, 64)
	if len(params) == 0 {
		params = json.RawMessage("null")
	}
	results := map[string]any{}
	var last any
	for _, r := range targets {
		h, ok := r.conn.(connector.RPCHandler)
		if !ok {
			continue
		}
		lctx, leave, live := r.enter(ctx)
		if !live {
			results[r.cfg.Name] = map[string]any{"error": r.notRunning().Error(), "code": 503}
			last = results[r.cfg.Name]
			continue
		}
		rctx, cancel := context.WithTimeout(lctx, rpcDefaultTimeout)
		res, err := h.OnRPC(rctx, connector.RPC{ID: id, Method: rest, Params: params, Timeout: rpcDefaultTimeout})
		cancel()
		leave()
		if err != nil {
			res = map[string]any{"error": err.Error(), "code": 500}
		} else if res == nil {
			res = map[string]any{"success": false}
		}
		results[r.cfg.Name] = res
		last = res
	}
	if len(results) == 1 {
		return last
	}
	if len(results) == 0 {
		return map[string]any{"error": "no " + prefix + " connector takes RPCs", "code": 404}
	}
	return results
}

// serviceRPC implements the gateway_* methods of tb-gateway 8.2.
func (g *Gateway) serviceRPC(ctx context.Context, name string, params json.RawMessage) any {
	switch name {
	case "ping":
		return map[string]any{"code": 200, "resp": "pong"}
	case "devices":
		return map[string]any{"code": 200, "resp": g.reg.all()}
	case "version":
		return map[string]any{"code": 200, "resp": map[string]any{"current_version": g.opts.Version, "latest_version": g.opts.Version}}
	case "stats":
		return g.statsSnapshot()
	case "restart":
		delay := time.Second
		var secs float64
		if json.Unmarshal(params, &secs) == nil && secs > 1 {
			delay = time.Duration(secs * float64(time.Second))
		}
		go func() {
			t := time.NewTimer(delay)
			defer t.Stop()
			select {
			case <-t.C:
				g.requestRestart()
			case <-ctx.Done():
			}
		}()
		return map[string]any{"success": true}
	case "device_renamed":
		var m map[string]string
		if err := json.Unmarshal(params, &m); err != nil {
			return map[string]any{"error": "params must be {\"old name\": \"new name\"}", "code": 400}
		}
		for o, n := range m {
			if g.reg.rename(o, n) {
				g.log.Info("device renamed in ThingsBoard", "from", o, "to", n)
			}
		}
		return map[string]any{"success": true}
	case "device_deleted":
		var n string
		if err := json.Unmarshal(params, &n); err != nil {
			return map[string]any{"error": "params must be the device name", "code": 400}
		}
		if _, ok := g.reg.remove(n); ok {
			g.log.Info("device deleted in ThingsBoard", "device", n)
		}
		return map[string]any{"success": true}
	case "reboot":
		return g.rebootRPC(ctx, params)
	case "remove_provisioned_credentials":
		return g.removeCredentialsRPC()
	case "update":
		return map[string]any{"error": "gateway_update is not supported by tbgw (updates come as ThingsBoard firmware, see thingsboard.ota)", "code": 501}
	}
	if res, ok := g.customRPC(ctx, name, params); ok {
		return res
	}
	return map[string]any{"error": "Method not found", "code": 404}
}

// serveOwnAttributes handles shared attributes of the gateway device.
func (g *Gateway) serveOwnAttributes(payload []byte) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(payload, &m); err != nil {
		return
	}
	g.applyRemote(m)
	g.otaAttributes(m)
	if raw, ok := m["RemoteLoggingLevel"]; ok {
		var s string
		if json.Unmarshal(raw, &s) == nil && g.setRemoteLevel(s) {
			g.log.Info("remote logging level changed by ThingsBoard", "level", s)
			g.publishControl(context.Background(), TopicOwnAttributes, map[string]any{"RemoteLoggingLevel": strings.ToUpper(s)})
		}
	}
}
