package tbtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// onMessage runs on paho's router goroutine for everything on v1/gateway/#
// and v1/devices/me/#.
func (tb *ThingsBoard) onMessage(_ paho.Client, m paho.Message) {
	topic, payload := m.Topic(), m.Payload()
	now := time.Now()
	tb.mu.Lock()
	if tb.echoLocked(topic, payload) { // our own publish, back from a broker other than ours
		tb.mu.Unlock()
		return
	}
	if len(tb.msgs) >= maxKept {
		tb.msgs = slices.Delete(tb.msgs, 0, maxKept/10)
	}
	tb.msgs = append(tb.msgs, Msg{Topic: topic, Payload: payload, Time: now})
	tb.counts[topic]++
	reply, replyTopic := tb.handleLocked(topic, payload, now)
	tb.notifyLocked()
	if reply != nil {
		tb.sentLocked(replyTopic, reply)
	}
	tb.mu.Unlock()
	if reply != nil {
		tb.mc.Publish(replyTopic, 1, false, reply) // not awaited: we run on paho's router
	}
}

// handleLocked updates the derived state and returns a reply to send.
func (tb *ThingsBoard) handleLocked(topic string, payload []byte, now time.Time) (reply []byte, replyTopic string) {
	switch {
	case strings.HasPrefix(topic, "v2/fw/request/"):
		return tb.firmwareChunk(topic, payload)
	case topic == "/provision/request":
		return tb.provisionRequest(payload)
	case topic == "v1/gateway/connect":
		var r struct {
			Device string `json:"device"`
		}
		if json.Unmarshal(payload, &r) == nil && r.Device != "" {
			tb.conns[r.Device]++
			if !slices.Contains(tb.connected, r.Device) {
				tb.connected = append(tb.connected, r.Device)
			}
		}
	case topic == "v1/gateway/disconnect":
		var r struct {
			Device string `json:"device"`
		}
		if json.Unmarshal(payload, &r) == nil {
			tb.connected = slices.DeleteFunc(tb.connected, func(d string) bool { return d == r.Device })
		}
	case topic == "v1/gateway/telemetry":
		var r map[string]json.RawMessage
		if json.Unmarshal(payload, &r) == nil {
			for dev, v := range r {
				tb.telemetry[dev] = append(tb.telemetry[dev], parseTS(v, now)...)
			}
		}
	case topic == "v1/gateway/attributes":
		var r map[string]map[string]any
		if json.Unmarshal(payload, &r) == nil {
			for dev, v := range r {
				tb.mergeAttrs(dev, v)
			}
		}
	case topic == "v1/gateway/attributes/request":
		var r struct {
			ID     json.RawMessage `json:"id"`
			Device string          `json:"device"`
			Client bool            `json:"client"`
			Keys   []string        `json:"keys"`
		}
		if json.Unmarshal(payload, &r) != nil {
			return nil, ""
		}
		table := tb.shared[r.Device]
		if r.Client {
			table = tb.client[r.Device]
		}
		resp := map[string]any{"id": r.ID, "device": r.Device}
		if v, ok := table[firstOr(r.Keys)]; ok && len(r.Keys) == 1 {
			resp["value"] = v
		} else {
			vals := map[string]any{}
			for _, k := range r.Keys {
				if v, ok := table[k]; ok {
					vals[k] = v
				}
			}
			resp["values"] = vals
		}
		b, _ := json.Marshal(resp)
		return b, "v1/gateway/attributes/response"
	case topic == "v1/gateway/rpc":
		var r struct {
			Device string          `json:"device"`
			ID     json.RawMessage `json:"id"`
			Data   json.RawMessage `json:"data"`
		}
		if json.Unmarshal(payload, &r) == nil && len(r.ID) > 0 {
			if ch, ok := tb.rpcWait["dev\x00"+r.Device+"\x00"+string(r.ID)]; ok {
				select {
				case ch <- r.Data:
				default:
				}
			}
		}
	case topic == "v1/devices/me/telemetry":
		tb.telemetry[Self] = append(tb.telemetry[Self], parseTS(payload, now)...)
	case topic == "v1/devices/me/attributes":
		var r map[string]any
		if json.Unmarshal(payload, &r) == nil {
			tb.mergeAttrs(Self, r)
		}
	case strings.HasPrefix(topic, "v1/devices/me/attributes/request/"):
		id := strings.TrimPrefix(topic, "v1/devices/me/attributes/request/")
		var r struct {
			ClientKeys string `json:"clientKeys"`
			SharedKeys string `json:"sharedKeys"`
		}
		_ = json.Unmarshal(payload, &r)
		pick := func(table map[string]any, keys string) map[string]any {
			out := map[string]any{}
			for k := range strings.SplitSeq(keys, ",") {
				if v, ok := table[strings.TrimSpace(k)]; ok {
					out[strings.TrimSpace(k)] = v
				}
			}
			return out
		}
		b, _ := json.Marshal(map[string]any{"client": pick(tb.client[Self], r.ClientKeys),
			"shared": pick(tb.shared[Self], r.SharedKeys)})
		return b, "v1/devices/me/attributes/response/" + id
	case strings.HasPrefix(topic, "v1/devices/me/rpc/request/"):
		var r struct {
			Method string `json:"method"`
		}
		if json.Unmarshal(payload, &r) == nil && r.Method == "getSessionLimits" {
			if l := tb.limits.Load(); l != nil {
				return *l, "v1/devices/me/rpc/response/" + strings.TrimPrefix(topic, "v1/devices/me/rpc/request/")
			}
		}
	case strings.HasPrefix(topic, "v1/devices/me/rpc/response/"):
		id := strings.TrimPrefix(topic, "v1/devices/me/rpc/response/")
		if ch, ok := tb.rpcWait["me\x00"+id]; ok {
			select {
			case ch <- json.RawMessage(payload):
			default:
			}
		}
	}
	return nil, ""
}

func firstOr(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}

func (tb *ThingsBoard) mergeAttrs(dev string, v map[string]any) {
	m := tb.attrs[dev]
	if m == nil {
		m = map[string]any{}
		tb.attrs[dev] = m
	}
	maps.Copy(m, v)
}

// parseTS reads telemetry in any ThingsBoard form: [{"ts":..,"values":{..}}],
// {"ts":..,"values":{..}}, [{"k":v}] or {"k":v}.
func parseTS(raw []byte, now time.Time) []TS {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return nil
	}
	var items []json.RawMessage
	if raw[0] == '[' {
		if json.Unmarshal(raw, &items) != nil {
			return nil
		}
	} else {
		items = []json.RawMessage{raw}
	}
	out := make([]TS, 0, len(items))
	for _, it := range items {
		var r struct {
			Ts     *int64         `json:"ts"`
			Values map[string]any `json:"values"`
		}
		if json.Unmarshal(it, &r) == nil && r.Ts != nil && r.Values != nil {
			out = append(out, TS{Ts: *r.Ts, Values: r.Values})
			continue
		}
		var flat map[string]any
		if json.Unmarshal(it, &flat) == nil && flat != nil { // "null" is no record
			out = append(out, TS{Ts: now.UnixMilli(), Values: flat})
		}
	}
	return out
}

// Messages returns the recorded messages on topic ("" for all), oldest
// first.
func (tb *ThingsBoard) Messages(topic string) []Msg {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	var out []Msg
	for _, m := range tb.msgs {
		if topic == "" || m.Topic == topic {
			out = append(out, m)
		}
	}
	return out
}

// Count returns how many messages arrived on topic (not bounded by the
// recording limit).
func (tb *ThingsBoard) Count(topic string) int {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	return tb.counts[topic]
}

// Telemetry returns the telemetry records of device (Self: the gateway).
func (tb *ThingsBoard) Telemetry(device string) []TS {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	return slices.Clone(tb.telemetry[device])
}

// Latest returns the latest value of a telemetry key of device.
func (tb *ThingsBoard) Latest(device, key string) (any, bool) {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	ts := tb.telemetry[device]
	for i := len(ts) - 1; i >= 0; i-- {
		if v, ok := ts[i].Values[key]; ok {
			return v, true
		}
	}
	return nil, false
}

// Attributes returns the merged client attributes device published (Self:
// the gateway).
func (tb *ThingsBoard) Attributes(device string) map[string]any {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	return maps.Clone(tb.attrs[device])
}

// Connected returns the devices connected (v1/gateway/connect not followed
// by v1/gateway/disconnect), in order of connection.
func (tb *ThingsBoard) Connected() []string {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	return slices.Clone(tb.connected)
}

// Connects returns how many v1/gateway/connect messages named device.
func (tb *ThingsBoard) Connects(device string) int {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	return tb.conns[device]
}

// WaitTelemetry waits until a telemetry value of key for device satisfies
// pred (nil: any value) and returns it; it fails the test on timeout.
func (tb *ThingsBoard) WaitTelemetry(device, key string, pred func(any) bool, timeout time.Duration) any {
	tb.t.Helper()
	var got any
	tb.waitFor(timeout, fmt.Sprintf("telemetry %q of %q", key, device), func() bool {
		for _, r := range tb.Telemetry(device) {
			if v, ok := r.Values[key]; ok && (pred == nil || pred(v)) {
				got = v
				return true
			}
		}
		return false
	})
	return got
}

// WaitAttribute waits until a client attribute of device satisfies pred
// (nil: present) and returns it; it fails the test on timeout.
func (tb *ThingsBoard) WaitAttribute(device, key string, pred func(any) bool, timeout time.Duration) any {
	tb.t.Helper()
	var got any
	tb.waitFor(timeout, fmt.Sprintf("attribute %q of %q", key, device), func() bool {
		v, ok := tb.Attributes(device)[key]
		if ok && (pred == nil || pred(v)) {
			got = v
			return true
		}
		return false
	})
	return got
}

// WaitConnected waits until device is connected; it fails the test on
// timeout.
func (tb *ThingsBoard) WaitConnected(device string, timeout time.Duration) {
	tb.t.Helper()
	tb.waitFor(timeout, fmt.Sprintf("device %q connected", device), func() bool {
		return slices.Contains(tb.Connected(), device)
	})
}

// WaitMessage waits for a message on topic ("" any) satisfying pred (nil:
// any) and returns the first such; it fails the test on timeout.
func (tb *ThingsBoard) WaitMessage(topic string, pred func(Msg) bool, timeout time.Duration) Msg {
	tb.t.Helper()
	var got Msg
	tb.waitFor(timeout, fmt.Sprintf("message on %q", topic), func() bool {
		for _, m := range tb.Messages(topic) {
			if pred == nil || pred(m) {
				got = m
				return true
			}
		}
		return false
	})
	return got
}

// Wait waits until cond holds; it fails the test on timeout.
func (tb *ThingsBoard) Wait(timeout time.Duration, what string, cond func() bool) {
	tb.t.Helper()
	tb.waitFor(timeout, what, cond)
}

// Reset forgets everything recorded so far (not the tables or limits).
func (tb *ThingsBoard) Reset() {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	tb.msgs = nil
	clear(tb.counts)
	clear(tb.telemetry)
	clear(tb.attrs)
	tb.connected = nil
	clear(tb.conns)
}
