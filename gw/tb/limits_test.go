package tb_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tbgw/tbgw/gw/tb"
	"github.com/tbgw/tbgw/gw/tbtest"
)

func TestSessionLimitsApplied(t *testing.T) {
	b := tbtest.StartBroker(t)
	thingsboard := tbtest.NewThingsBoard(t, b.Host, b.Port)
	thingsboard.SetSessionLimits(map[string]any{
		"maxPayloadSize": 1000, "maxInflightMessages": 100,
		"rateLimits":        map[string]string{"messages": "50:1", "telemetryMessages": "", "telemetryDataPoints": ""},
		"gatewayRateLimits": map[string]string{"messages": "20:1,600:60", "telemetryMessages": "20:1", "telemetryDataPoints": "100:1"},
	})
	c := mustNew(t, fastCfg(b.Host, b.Port), tb.Handler{})
	run(t, c)
	eventually(t, 10*time.Second, "connected", c.Connected)
	l := c.Limits()
	if !l.FromServer || l.MaxPayload != 800 || l.ServerMaxPayload != 1000 || l.MaxInflight != 16 {
		t.Fatalf("limits %+v, want payload 800 of 1000 and in-flight 80%% of 20", l)
	}
	big := `{"d":{"v":"` + strings.Repeat("x", 1000) + `"}}`
	_, err := c.Publish(context.Background(), tb.TopicGatewayTelemetry, []byte(big), 1, 1)
	if !errors.Is(err, tb.ErrTooLarge) {
		t.Fatalf("oversized publish: %v", err)
	}
	// Between 80 % and 100 % of the server limit is still sent.
	mid := `{"d":{"v":"` + strings.Repeat("x", 900) + `"}}`
	if err := publishWait(t, c, tb.TopicGatewayTelemetry, mid); err != nil {
		t.Fatal(err)
	}
}

func TestSessionLimitsTimeout(t *testing.T) {
	b := tbtest.StartBroker(t)
	thingsboard := tbtest.NewThingsBoard(t, b.Host, b.Port)
	thingsboard.SetSessionLimits(nil) // an old ThingsBoard: no answer
	cfg := fastCfg(b.Host, b.Port)
	cfg.SessionLimitsTimeout = 100 * time.Millisecond
	cfg.MaxPayloadSize = 4000
	c := mustNew(t, cfg, tb.Handler{})
	run(t, c)
	eventually(t, 10*time.Second, "connected after the limits timeout", c.Connected)
	if l := c.Limits(); l.FromServer || l.MaxPayload != 4000 || l.ServerMaxPayload != 0 || l.MaxInflight != tb.DefaultMaxInflight {
		t.Fatalf("limits %+v", l)
	}
	if err := publishWait(t, c, tb.TopicGatewayTelemetry, `{"d":{"v":1}}`); err != nil {
		t.Fatal(err)
	}
}

// Server rate limits slow publishing down: 5 telemetry messages per second
// at 80 % admit 4 at once, then one per 250 ms.
func TestServerRateLimitThrottles(t *testing.T) {
	b := tbtest.StartBroker(t)
	thingsboard := tbtest.NewThingsBoard(t, b.Host, b.Port)
	thingsboard.SetSessionLimits(map[string]any{"maxPayloadSize": 65536, "maxInflightMessages": 100,
		"gatewayRateLimits": map[string]string{"telemetryMessages": "5:1"}})
	c := mustNew(t, fastCfg(b.Host, b.Port), tb.Handler{})
	run(t, c)
	eventually(t, 10*time.Second, "connected", c.Connected)
	start := time.Now()
	for range 8 {
		if err := publishWait(t, c, tb.TopicGatewayTelemetry, `{"d":{"v":1}}`); err != nil {
			t.Fatal(err)
		}
	}
	if el := time.Since(start); el < 700*time.Millisecond { // 4 free + 4 × 250 ms = 1 s nominal
		t.Fatalf("8 messages in %v: not throttled", el)
	}
	// Other traffic is not throttled by the telemetry limit.
	start = time.Now()
	for range 8 {
		if err := publishWait(t, c, tb.TopicGatewayConnect, `{"device":"d"}`); err != nil {
			t.Fatal(err)
		}
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Fatalf("connect messages throttled: %v", el)
	}
	// A publish waiting for tokens gives up with its context.
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	var err error
	for i := 0; i < 20 && err == nil; i++ {
		_, err = c.Publish(ctx, tb.TopicGatewayTelemetry, []byte(`{"d":{"v":1}}`), 1, 1)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("rate-limited publish with short context: %v", err)
	}
}

func TestAttributeRequests(t *testing.T) {
	b := tbtest.StartBroker(t)
	thingsboard := tbtest.NewThingsBoard(t, b.Host, b.Port)
	thingsboard.SetAttributeTable("dev1", false, map[string]any{"sp": 21.5, "mode": "auto", "reg64": uint64(17275436396653061650)})
	thingsboard.SetAttributeTable("dev1", true, map[string]any{"fw": "1.2"})
	thingsboard.SetAttributeTable(tbtest.Self, false, map[string]any{"RemoteLoggingLevel": "INFO"})
	thingsboard.SetAttributeTable(tbtest.Self, true, map[string]any{"Version": "3.8"})
	in := newInbox()
	c := mustNew(t, fastCfg(b.Host, b.Port), in.handler())
	run(t, c)
	eventually(t, 10*time.Second, "connected", c.Connected)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	got, err := c.RequestDeviceAttributes(ctx, "dev1", false, []string{"sp"})
	if err != nil || got["sp"] != 21.5 || len(got) != 1 {
		t.Fatalf("single shared key: %v %v", got, err)
	}
	got, err = c.RequestDeviceAttributes(ctx, "dev1", false, []string{"sp", "mode", "missing"})
	if err != nil || got["sp"] != 21.5 || got["mode"] != "auto" || len(got) != 2 {
		t.Fatalf("several shared keys: %v %v", got, err)
	}
	// A 64-bit value keeps every digit, as in attribute updates.
	got, err = c.RequestDeviceAttributes(ctx, "dev1", false, []string{"reg64"})
	if err != nil || got["reg64"] != json.Number("17275436396653061650") {
		t.Fatalf("64-bit key: %#v %v", got, err)
	}
	got, err = c.RequestDeviceAttributes(ctx, "dev1", false, []string{"sp", "reg64"})
	if err != nil || got["reg64"] != json.Number("17275436396653061650") || got["sp"] != 21.5 {
		t.Fatalf("64-bit key among several: %#v %v", got, err)
	}
	got, err = c.RequestDeviceAttributes(ctx, "dev1", true, []string{"fw"})
	if err != nil || got["fw"] != "1.2" {
		t.Fatalf("client key: %v %v", got, err)
	}
	cl, sh, err := c.RequestOwnAttributes(ctx, []string{"Version"}, []string{"RemoteLoggingLevel", "nope"})
	if err != nil || cl["Version"] != "3.8" || sh["RemoteLoggingLevel"] != "INFO" || len(sh) != 1 {
		t.Fatalf("own attributes: %v %v %v", cl, sh, err)
	}
	if in.has("attributes/response") {
		t.Fatal("correlated responses were also passed to OnMessage")
	}
	// No answer: the context bounds the request.
	short, cancel2 := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel2()
	b.DropPublishes(true)
	if _, err := c.RequestDeviceAttributes(short, "dev1", false, []string{"sp"}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("unanswered request: %v", err)
	}
}

// Inbound messages beyond the queue are dropped and counted; the
// connection's acknowledgements keep flowing meanwhile.
func TestInboundQueueOverflow(t *testing.T) {
	b := tbtest.StartBroker(t)
	thingsboard := tbtest.NewThingsBoard(t, b.Host, b.Port)
	release := make(chan struct{})
	got := make(chan string, 100)
	cfg := fastCfg(b.Host, b.Port)
	cfg.InboundQueue = 2
	c := mustNew(t, cfg, tb.Handler{OnMessage: func(topic string, p []byte) {
		<-release
		got <- string(p)
	}})
	run(t, c)
	eventually(t, 10*time.Second, "connected", c.Connected)
	for i := range 6 {
		thingsboard.SetAttributes("d", map[string]any{"i": i})
	}
	eventually(t, 5*time.Second, "drops counted", func() bool { return c.Stats().MessagesDropped >= 3 })
	// The handler is blocked, yet publishes are acknowledged.
	if err := publishWait(t, c, tb.TopicGatewayTelemetry, `{"d":{"v":1}}`); err != nil {
		t.Fatal(err)
	}
	close(release)
	first := <-got
	if !strings.Contains(first, `"i":0`) {
		t.Fatalf("first delivered message %s", first)
	}
}

// A new session starts with the limits an earlier one was told, instead
// of holding telemetry until getSessionLimits is answered again.
func TestReconnectUsesKnownLimits(t *testing.T) {
	b := tbtest.StartBroker(t)
	thingsboard := tbtest.NewThingsBoard(t, b.Host, b.Port)
	thingsboard.SetSessionLimits(map[string]any{"maxPayloadSize": 2000, "maxInflightMessages": 10})
	cfg := fastCfg(b.Host, b.Port)
	cfg.SessionLimitsTimeout = 10 * time.Minute // a wait for the answer would outlast the test
	c := mustNew(t, cfg, tb.Handler{})
	run(t, c)
	eventually(t, 10*time.Second, "connected with server limits", func() bool { return c.Connected() && c.Limits().FromServer })
	thingsboard.SetSessionLimits(nil) // no answer from now on
	b.Stop()
	eventually(t, 10*time.Second, "disconnect noticed", func() bool { return !c.Connected() })
	b.Start()
	eventually(t, time.Minute, "reconnected without an answer", func() bool { return c.Connected() && c.Stats().Connects == 2 })
	if l := c.Limits(); l.ServerMaxPayload != 2000 || l.MaxPayload != 1600 || l.MaxInflight != 8 {
		t.Fatalf("limits after reconnect %+v, want the known ones", l)
	}
	if err := publishWait(t, c, tb.TopicGatewayTelemetry, `{"devA":{"v":1}}`); err != nil {
		t.Fatal(err)
	}
}

// While nothing listens on the port the client retries at a short,
// steady interval; the back-off grows only after rejections and errors.
func TestRefusedRetriesFast(t *testing.T) {
	b := tbtest.StartBroker(t)
	_ = tbtest.NewThingsBoard(t, b.Host, b.Port)
	cfg := fastCfg(b.Host, b.Port)
	cfg.ReconnectMin, cfg.ReconnectMax = 200*time.Millisecond, 10*time.Minute
	c := mustNew(t, cfg, tb.Handler{})
	run(t, c)
	eventually(t, 10*time.Second, "connected", c.Connected)
	b.Stop()
	// Doubling from 200 ms, ten refused attempts would take over three
	// minutes; at the steady interval they take seconds.
	eventually(t, time.Minute, "ten refused attempts", func() bool { return c.Stats().ConnectFailures >= 10 })
	b.Start()
	eventually(t, 30*time.Second, "reconnected", c.Connected)
}
