package tb

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/tbgw/tbgw/gw/connector"
)

// sessionLimits is the getSessionLimits answer.
type sessionLimits struct {
	MaxPayloadSize      int             `json:"maxPayloadSize"`
	MaxInflightMessages int             `json:"maxInflightMessages"`
	RateLimits          *serverRateSet  `json:"rateLimits"`
	GatewayRateLimits   *serverRateSet  `json:"gatewayRateLimits"`
	Error               json.RawMessage `json:"error"`
}

type serverRateSet struct {
	Messages            string `json:"messages"`
	TelemetryMessages   string `json:"telemetryMessages"`
	TelemetryDataPoints string `json:"telemetryDataPoints"`
}

var sessionLimitsRequest = []byte(`{"method":"` + sessionLimitsMethod + `","params":{"timeout":` +
	strconv.Itoa(sessionLimitsRequestTimeoutMs) + `}}`)

// limitsRequest is a getSessionLimits request awaiting its answer.
type limitsRequest struct {
	id int64
	ch chan []byte
}

// sendSessionLimitsRequest asks for the session limits on a fresh
// session; awaitSessionLimits must follow.
func (c *Client) sendSessionLimitsRequest(s *session) *limitsRequest {
	id := c.reqID.Add(1)
	r := &limitsRequest{id: id, ch: c.pending.add(id)}
	topic := TopicRPCRequestPrefix + strconv.FormatInt(id, 10)
	c.echo.sent(topic, sessionLimitsRequest, c.now())
	s.mc.Publish(topic, byte(c.cfg.QoS), false, sessionLimitsRequest)
	return r
}

// awaitSessionLimits waits for the answer to r and applies it. Without an
// answer in time the current limits stay.
func (c *Client) awaitSessionLimits(ctx context.Context, s *session, r *limitsRequest) Limits {
	defer c.pending.remove(r.id)
	keep := func(why string, args ...any) Limits {
		l := *c.limits.Load()
		l.FromServer = false
		c.limits.Store(&l)
		c.log.Warn("no session limits from ThingsBoard, keeping the current ones",
			append([]any{"reason", why}, args...)...)
		return l
	}
	t := time.NewTimer(c.cfg.SessionLimitsTimeout)
	defer t.Stop()
	var payload []byte
	select {
	case payload = <-r.ch:
	case <-t.C:
		return keep("timeout", "timeout", c.cfg.SessionLimitsTimeout)
	case <-s.lost:
		return keep("connection lost")
	case <-ctx.Done():
		return keep("shutdown")
	}
	var sl sessionLimits
	if err := json.Unmarshal(payload, &sl); err != nil {
		return keep("malformed answer", "error", err)
	}
	if len(sl.Error) > 0 {
		return keep("server error", "error", string(sl.Error))
	}
	l := c.applySessionLimits(&sl)
	c.knownLimits.Store(true)
	return l
}

// applySessionLimits installs a getSessionLimits answer.
func (c *Client) applySessionLimits(sl *sessionLimits) Limits {
	var srv [numClasses][]window
	parse := func(cls int, v string) {
		w, err := parseRateLimit(v)
		if err != nil {
			c.log.Warn("ignoring malformed server rate limit", "key", rateKeys[cls], "error", err)
			return
		}
		srv[cls] = w
	}
	if r := sl.RateLimits; r != nil {
		parse(clsOwnMsgs, r.Messages)
		parse(clsOwnTel, r.TelemetryMessages)
		parse(clsOwnDP, r.TelemetryDataPoints)
	}
	if r := sl.GatewayRateLimits; r != nil {
		parse(clsDevMsgs, r.Messages)
		parse(clsDevTel, r.TelemetryMessages)
		parse(clsDevDP, r.TelemetryDataPoints)
	}
	c.rl.applyServer(srv)
	l := Limits{MaxPayload: c.cfg.MaxPayloadSize, FromServer: true}
	if sl.MaxPayloadSize > 0 {
		l.ServerMaxPayload = sl.MaxPayloadSize
		l.MaxPayload = max(1, int(float64(sl.MaxPayloadSize)*0.8))
	}
	l.MaxInflight = c.inflightFor(max(sl.MaxInflightMessages, 0))
	c.limits.Store(&l)
	return l
}

// request publishes a request that carries id and waits for the response
// routed to id. A ctx without deadline gets def as timeout.
func (c *Client) request(ctx context.Context, id int64, topic string, payload []byte, def time.Duration) ([]byte, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, def)
		defer cancel()
	}
	s := c.cur.Load()
	if s == nil {
		return nil, ErrNotConnected
	}
	ch := c.pending.add(id)
	defer c.pending.remove(id)
	tok, err := c.Publish(ctx, topic, payload, byte(c.cfg.QoS), 0)
	if err != nil {
		return nil, err
	}
	if err := tok.Wait(ctx); err != nil {
		return nil, err
	}
	select {
	case p := <-ch:
		return p, nil
	case <-s.lost:
		return nil, ErrConnectionLost
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// RequestDeviceAttributes asks ThingsBoard for attributes of a sub-device
// (v1/gateway/attributes/request, correlated by id on
// v1/gateway/attributes/response): client-scope when client is true, else
// shared. The result maps key to value. A ctx without deadline is bounded
// to 20 s.
func (c *Client) RequestDeviceAttributes(ctx context.Context, device string, client bool, keys []string) (map[string]any, error) {
	id := c.reqID.Add(1)
	if keys == nil {
		keys = []string{}
	}
	req, err := json.Marshal(struct {
		ID     int64    `json:"id"`
		Device string   `json:"device"`
		Client bool     `json:"client"`
		Keys   []string `json:"keys"`
	}{id, device, client, keys})
	if err != nil {
		return nil, err
	}
	resp, err := c.request(ctx, id, TopicGatewayAttributesRequest, req, gatewayAttributeRequestTimeout*time.Second)
	if err != nil {
		return nil, fmt.Errorf("tb: attribute request for device %q: %w", device, err)
	}
	var r struct {
		Value  json.RawMessage `json:"value"`
		Values map[string]any  `json:"values"`
	}
	// Decoded as attribute updates are, so that 64-bit values keep every
	// digit on their way to the connector.
	if err := connector.DecodeExact(resp, &r); err != nil {
		return nil, fmt.Errorf("tb: attribute response for device %q: %w", device, err)
	}
	out := r.Values
	if out == nil {
		out = map[string]any{}
	}
	connector.Exact(out)
	if len(r.Value) > 0 && len(keys) == 1 {
		var v any
		if err := connector.DecodeExact(r.Value, &v); err != nil {
			return nil, fmt.Errorf("tb: attribute response for device %q: %w", device, err)
		}
		out[keys[0]] = connector.Exact(v)
	}
	return out, nil
}

// RequestOwnAttributes asks ThingsBoard for the gateway device's own client
// and shared attributes (v1/devices/me/attributes/request/<id>). A ctx
// without deadline is bounded to 20 s.
func (c *Client) RequestOwnAttributes(ctx context.Context, client, shared []string) (clientVals, sharedVals map[string]any, err error) {
	id := c.reqID.Add(1)
	req := map[string]string{}
	if len(client) > 0 {
		req["clientKeys"] = strings.Join(client, ",")
	}
	if len(shared) > 0 {
		req["sharedKeys"] = strings.Join(shared, ",")
	}
	body, err := json.Marshal(req)
	if err != nil {
		return nil, nil, err
	}
	resp, err := c.request(ctx, id, TopicAttributesRequestPrefix+strconv.FormatInt(id, 10), body,
		gatewayAttributeRequestTimeout*time.Second)
	if err != nil {
		return nil, nil, fmt.Errorf("tb: own attribute request: %w", err)
	}
	var r struct {
		Client map[string]any `json:"client"`
		Shared map[string]any `json:"shared"`
	}
	if err := json.Unmarshal(resp, &r); err != nil {
		return nil, nil, fmt.Errorf("tb: own attribute response: %w", err)
	}
	if r.Client == nil {
		r.Client = map[string]any{}
	}
	if r.Shared == nil {
		r.Shared = map[string]any{}
	}
	return r.Client, r.Shared, nil
}
