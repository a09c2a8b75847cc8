package gw

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"
)

// The uplink packs many devices into one message, within the payload
// limit, and every value arrives once.
func TestManyDevicesPerMessage(t *testing.T) {
	var devs []string
	for i := range 100 {
		devs = append(devs, fmt.Sprintf("dev%03d", i))
	}
	r := newRig(t, map[string]any{"connectors": []any{probeConn("P", "p.json")}},
		map[string]any{"p.json": map[string]any{"devices": devs, "points": 5, "once": true}})
	r.tb.SetSessionLimits(json.RawMessage(`{"maxPayloadSize":2000,"maxInflightMessages":100,"rateLimits":{},"gatewayRateLimits":{}}`))
	r.start()
	r.tb.Wait(15*time.Second, "5 values of every device", func() bool {
		for _, d := range devs {
			n := 0
			for _, rec := range r.tb.Telemetry(d) {
				n += len(rec.Values)
			}
			if n < 5 {
				return false
			}
		}
		return true
	})
	msgs := r.tb.Messages("v1/gateway/telemetry")
	multi := 0
	for _, m := range msgs {
		if len(m.Payload) > 2000 {
			t.Fatalf("message of %d bytes exceeds the server's limit", len(m.Payload))
		}
		var body map[string]json.RawMessage
		if err := json.Unmarshal(m.Payload, &body); err != nil {
			t.Fatalf("malformed message %s: %v", m.Payload, err)
		}
		if len(body) > 1 {
			multi++
		}
	}
	if multi == 0 || len(msgs) >= len(devs) {
		t.Fatalf("%d messages for %d devices, %d with several devices: not packed", len(msgs), len(devs), multi)
	}
	for _, d := range devs {
		n := 0
		for _, rec := range r.tb.Telemetry(d) {
			n += len(rec.Values)
		}
		if n != 5 {
			t.Fatalf("%s: %d values, want 5", d, n)
		}
	}
}

// Below full batches the uplink gathers what trickles in for
// minPackSendDelayMS: one round per window, and at most two when the
// source paused for half a window between them (such a batch goes at
// once: its source gathered it already). Without the window there would
// be one round per message here, every 5 ms.
func TestPackWindow(t *testing.T) {
	r := newRig(t, map[string]any{
		"thingsboard": map[string]any{"minPackSendDelayMS": 200},
		"connectors":  []any{probeConn("P", "p.json")},
	}, map[string]any{"p.json": map[string]any{"devices": []string{"a", "b"}, "everyMs": 5}})
	r.start()
	r.tb.Wait(15*time.Second, "a first value", func() bool { return len(r.tb.Telemetry("a")) > 0 })
	start, n0 := time.Now(), len(r.tb.Messages("v1/gateway/telemetry"))
	r.tb.Wait(30*time.Second, "100 more values", func() bool {
		n := 0
		for _, rec := range r.tb.Telemetry("a") {
			n += len(rec.Values)
		}
		return n >= 101
	})
	rounds := len(r.tb.Messages("v1/gateway/telemetry")) - n0
	if limit := 2*int(time.Since(start)/(200*time.Millisecond)) + 2; rounds > limit {
		t.Fatalf("%d telemetry messages in %v: more than two per 200 ms window", rounds, time.Since(start))
	}
}

// One outage of the side-by-side measurement against ThingsBoard lost a
// message published about 15 ms before ThingsBoard's broker stopped. The
// gateway counts a message delivered only on its PUBACK and, after the
// next connect, publishes again everything not acknowledged: a message
// the broker received but had not acknowledged when it stopped arrives
// after its return. A message lost that way had been acknowledged by the
// broker and was dropped by it, not by the gateway.
func TestUnacknowledgedPublishResentAfterBrokerStop(t *testing.T) {
	r := newRig(t, map[string]any{"connectors": []any{probeConn("P", "p.json")}},
		map[string]any{"p.json": map[string]any{"devices": []string{"dev-x"}, "once": true}})
	r.b.DropPublishes(true) // received, never acknowledged
	r.start()
	r.tb.Wait(20*time.Second, "the telemetry reached the broker", func() bool { return r.b.PublishedTelemetry() >= 1 })
	r.b.Stop()
	if got := r.tb.Telemetry("dev-x"); len(got) != 0 {
		t.Fatalf("telemetry recorded although the broker swallowed it: %v", got)
	}
	r.b.DropPublishes(false)
	r.b.Start()
	r.tb.WaitTelemetry("dev-x", "v", func(v any) bool { return v.(float64) == 1 }, 30*time.Second)
}

// GOMAXPROCS goes to 1 below procsDown of a core and back to every P
// above procsUp, with nothing in between (no flapping).
func TestProcsFor(t *testing.T) {
	for _, c := range []struct {
		cur  int
		use  float64
		want int
	}{
		{4, 0.05, 1}, {4, 0.29, 1}, {4, 0.45, 4}, {4, 1.8, 4},
		{1, 0.05, 1}, {1, 0.45, 1}, {1, 0.61, 4}, {1, 0.99, 4},
	} {
		if got := procsFor(c.cur, 4, c.use); got != c.want {
			t.Errorf("procsFor(%d, 4, %.2f) = %d, want %d", c.cur, c.use, got, c.want)
		}
	}
}

// minPackSendDelayMS is shared out: the uplink waits the window less the
// fsync gap for trickling batches; a gathering connector (sink.Window)
// may use all but a tenth of it, at most the gap.
func TestWindowShares(t *testing.T) {
	ms := time.Millisecond
	for _, c := range []struct{ window, gap, pack, gather time.Duration }{
		{50 * ms, 20 * ms, 30 * ms, 45 * ms}, // the defaults with the log
		{50 * ms, 0, 50 * ms, 50 * ms},       // memory storage, fsync interval or never
		{10 * ms, 20 * ms, 0, 9 * ms},        // a window shorter than the gap
		{500 * ms, 20 * ms, 480 * ms, 480 * ms},
		{0, 20 * ms, 0, 0},
		{-ms, 20 * ms, 0, 0}, // below 0: off
	} {
		pack, gather := windowShares(c.window, c.gap)
		if pack != c.pack || gather != c.gather {
			t.Errorf("window %v gap %v: pack %v gather %v, want %v %v", c.window, c.gap, pack, gather, c.pack, c.gather)
		}
	}
}
