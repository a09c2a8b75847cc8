package tb

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

// fakeClock is a manually advanced clock.
type fakeClock struct{ t time.Time }

func (f *fakeClock) now() time.Time      { return f.t }
func (f *fakeClock) add(d time.Duration) { f.t = f.t.Add(d) }
func newFake() *fakeClock                { return &fakeClock{t: time.Unix(1_700_000_000, 0)} }
func winds(s string) []window            { w, _ := parseRateLimit(s); return w }
func w(limit, secs int) window           { return window{limit, time.Duration(secs) * time.Second} }
func mustLimiter(t *testing.T, cfg Config, clk *fakeClock) *limiter {
	t.Helper()
	cfg = cfg.withDefaults()
	l, err := newLimiter(&cfg, clk.now)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestParseRateLimit(t *testing.T) {
	cases := []struct {
		in   string
		want []window
		err  bool
	}{
		{"", nil, false},
		{"0:0", nil, false},
		{"0:0,", nil, false},
		{"10:1,60:60,", []window{w(10, 1), w(60, 60)}, false},
		{"10:1;300:60", []window{w(10, 1), w(300, 60)}, false},
		{" 5 : 2 , ", []window{w(5, 2)}, false},
		{"10:0", nil, false},
		{"10", nil, true},
		{"a:1", nil, true},
		{"-1:1", nil, true},
		{"10:1:3", nil, true},
	}
	for _, c := range cases {
		got, err := parseRateLimit(c.in)
		if (err != nil) != c.err || !equalWindows(got, c.want) {
			t.Errorf("parseRateLimit(%q) = %v, %v; want %v, err %v", c.in, got, err, c.want, c.err)
		}
	}
}

func TestDefaultTokens(t *testing.T) {
	cases := []struct {
		val, def, host string
		want           []window
		repl           bool
	}{
		{"", DefaultMessagesRateLimit, "localhost", nil, true},
		{"DEFAULT_TELEMETRY_RATE_LIMIT", "", "thingsboard.cloud", winds("10:1,60:60"), true},
		{"", DefaultTelemetryDPRateLimit, "eu.thingsboard.cloud", winds("10:1,300:60"), true},
		{"", DefaultMessagesRateLimit, "demo.thingsboard.io", winds("10:1,60:60"), true},
		{"", DefaultMessagesRateLimit, "my-tb.cloud.example", winds("10:1,60:60"), true},
		{"", DefaultMessagesRateLimit, "192.168.1.5", nil, true},
		{"20:1", DefaultMessagesRateLimit, "thingsboard.cloud", winds("20:1"), false},
	}
	for _, c := range cases {
		got, repl, err := resolveRateLimit(c.val, c.def, c.host)
		if err != nil || repl != c.repl || !equalWindows(got, c.want) {
			t.Errorf("resolve(%q,%q,%q) = %v %v %v", c.val, c.def, c.host, got, repl, err)
		}
	}
}

func TestTopicClasses(t *testing.T) {
	cases := map[string][3]int{
		TopicGatewayTelemetry:        {clsDevMsgs, clsDevTel, clsDevDP},
		TopicGatewayAttributes:       {clsDevMsgs, clsDevTel, clsDevDP},
		TopicGatewayConnect:          {clsDevMsgs, -1, -1},
		TopicGatewayRPC:              {clsDevMsgs, -1, -1},
		TopicTelemetry:               {clsOwnMsgs, clsOwnTel, clsOwnDP},
		TopicAttributes:              {clsOwnMsgs, -1, -1},
		TopicRPCResponsePrefix + "3": {clsOwnMsgs, -1, -1},
	}
	for topic, want := range cases {
		m, tl, d := topicClasses(topic)
		if [3]int{m, tl, d} != want {
			t.Errorf("%s: %d %d %d, want %v", topic, m, tl, d, want)
		}
	}
}

func TestBucketAdmitsAt80Percent(t *testing.T) {
	clk := newFake()
	// 10 telemetry messages per second at 80 %: 8 admitted at once, then
	// one every 125 ms.
	l := mustLimiter(t, Config{Host: "h", DeviceRateLimits: "10:1"}, clk)
	for i := range 8 {
		if d := l.reserve(TopicGatewayTelemetry, 1); d != 0 {
			t.Fatalf("message %d delayed %v", i, d)
		}
	}
	d := l.reserve(TopicGatewayTelemetry, 1)
	if d < 120*time.Millisecond || d > 130*time.Millisecond {
		t.Fatalf("9th message wait %v, want ~125ms", d)
	}
	clk.add(d)
	if d := l.reserve(TopicGatewayTelemetry, 1); d != 0 {
		t.Fatalf("after waiting: %v", d)
	}
	// Other classes are independent.
	if d := l.reserve(TopicTelemetry, 1); d != 0 {
		t.Fatalf("own telemetry delayed by device limit: %v", d)
	}
	if d := l.reserve(TopicGatewayConnect, 1); d != 0 {
		t.Fatalf("device message (no limit) delayed: %v", d)
	}
}

func TestMultipleWindows(t *testing.T) {
	clk := newFake()
	// 100/s but 10 per minute (80 %: 8 per 60 s).
	l := mustLimiter(t, Config{Host: "h", MessagesRateLimits: "100:1,10:60"}, clk)
	for range 8 {
		if d := l.reserve(TopicAttributes, 0); d != 0 {
			t.Fatal("delayed within budget")
		}
	}
	d := l.reserve(TopicAttributes, 0)
	if d < 7*time.Second || d > 8*time.Second { // 60 s / 8 tokens = 7.5 s per token
		t.Fatalf("wait %v, want 7.5 s", d)
	}
}

func TestDatapointLimitAndDebt(t *testing.T) {
	clk := newFake()
	l := mustLimiter(t, Config{Host: "h", DeviceDPRateLimits: "100:1"}, clk) // 80 dp/s
	if d := l.reserve(TopicGatewayTelemetry, 50); d != 0 {
		t.Fatal(d)
	}
	d := l.reserve(TopicGatewayTelemetry, 50) // 30 left, 20 missing: 250 ms
	if d < 240*time.Millisecond || d > 260*time.Millisecond {
		t.Fatalf("wait %v, want 250ms", d)
	}
	// A message costing more than the bucket holds is admitted once the
	// bucket is full and leaves a debt.
	clk.add(2 * time.Second)
	if d := l.reserve(TopicGatewayTelemetry, 200); d != 0 {
		t.Fatalf("oversized message not admitted on a full bucket: %v", d)
	}
	d = l.reserve(TopicGatewayTelemetry, 1)
	if d < 1500*time.Millisecond || d > 1525*time.Millisecond { // debt of 120, plus 1, at 80/s
		t.Fatalf("debt not honoured: wait %v", d)
	}
	// Datapoints do not limit non-telemetry topics.
	if d := l.reserve(TopicGatewayConnect, 1000); d != 0 {
		t.Fatal(d)
	}
}

func TestServerLimitsReplaceDefaultsOnly(t *testing.T) {
	clk := newFake()
	l := mustLimiter(t, Config{Host: "thingsboard.cloud", DeviceRateLimits: "50:1"}, clk)
	var srv [numClasses][]window
	srv[clsDevMsgs] = winds("1000:1")
	srv[clsDevTel] = winds("1000:1")
	l.applyServer(srv)
	// DEFAULT device messages (cloud 10:1,60:60) replaced by the server's.
	if got := l.cls[clsDevMsgs].spec; !equalWindows(got, winds("1000:1")) {
		t.Errorf("device messages %v", got)
	}
	// Explicit 50:1 kept, server's added.
	if got := l.cls[clsDevTel].spec; !equalWindows(got, winds("50:1,1000:1")) {
		t.Errorf("device telemetry %v", got)
	}
	// DEFAULT own datapoints with no server value: unlimited.
	if got := l.cls[clsOwnDP].spec; got != nil {
		t.Errorf("own dp %v", got)
	}
	if m := l.minMessageLimit(); m != 50 {
		t.Errorf("minMessageLimit %d", m)
	}
	// Re-applying the same limits keeps bucket state.
	for range 40 {
		l.reserve(TopicGatewayTelemetry, 0)
	}
	l.applyServer(srv)
	if d := l.reserve(TopicGatewayTelemetry, 0); d == 0 {
		t.Error("bucket refilled by re-applying identical limits")
	}
}

func TestDrain(t *testing.T) {
	clk := newFake()
	l := mustLimiter(t, Config{Host: "h", DeviceMessagesRateLimits: "10:1", MessagesRateLimits: "10:1"}, clk)
	l.drain(clsDevMsgs, clsDevTel, clsDevDP)
	if d := l.reserve(TopicGatewayConnect, 0); d == 0 {
		t.Fatal("drained bucket admitted")
	}
	if d := l.reserve(TopicAttributes, 0); d != 0 {
		t.Fatal("own bucket drained too")
	}
}

func TestWaitHonoursContextAndLoss(t *testing.T) {
	clk := newFake()
	l := mustLimiter(t, Config{Host: "h", MessagesRateLimits: "1:3600"}, clk)
	if err := l.wait(context.Background(), nil, TopicAttributes, 0); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	if err := l.wait(ctx, nil, TopicAttributes, 0); err != context.DeadlineExceeded {
		t.Fatalf("wait: %v", err)
	}
	lost := make(chan struct{})
	close(lost)
	if err := l.wait(context.Background(), lost, TopicAttributes, 0); err != ErrConnectionLost {
		t.Fatalf("wait on lost session: %v", err)
	}
	// Unlimited classes never wait.
	l2 := mustLimiter(t, Config{Host: "h"}, clk)
	if l2.active.Load() {
		t.Fatal("limiter active without limits")
	}
}

func TestInflightWindow(t *testing.T) {
	c, err := New(Config{Host: "h", Security: Security{AccessToken: "x"}}, nil, Handler{})
	if err != nil {
		t.Fatal(err)
	}
	if l := c.Limits(); l.MaxInflight != DefaultMaxInflight || l.MaxPayload != DefaultMaxPayloadSize {
		t.Fatalf("defaults %+v", l)
	}
	l := c.applySessionLimits(&sessionLimits{MaxPayloadSize: 10000, MaxInflightMessages: 50})
	if l.MaxInflight != 40 || l.MaxPayload != 8000 || l.ServerMaxPayload != 10000 {
		t.Fatalf("after limits %+v", l)
	}
	l = c.applySessionLimits(&sessionLimits{GatewayRateLimits: &serverRateSet{Messages: "5:1,100:60"}})
	if l.MaxInflight != 4 || l.MaxPayload != DefaultMaxPayloadSize {
		t.Fatalf("after rate limits %+v", l)
	}
	l = c.applySessionLimits(&sessionLimits{MaxInflightMessages: 1})
	if l.MaxInflight != 1 {
		t.Fatalf("minimum window %+v", l)
	}
	l = c.applySessionLimits(&sessionLimits{MaxInflightMessages: 100000})
	if l.MaxInflight != DefaultMaxInflight {
		t.Fatalf("window above cap %+v", l)
	}
}

// FuzzParseRateLimit: never panics; accepted windows are positive and
// re-parse to the same result when printed.
func FuzzParseRateLimit(f *testing.F) {
	for _, s := range []string{"10:1,60:60,", "0:0", "10:1;300:60", " 5 : 2 ", "a:b", "1:1:1", ",,;"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ws, err := parseRateLimit(s)
		if err != nil {
			return
		}
		var b strings.Builder
		for _, w := range ws {
			if w.limit <= 0 || w.per <= 0 {
				t.Fatalf("%q: bad window %+v", s, w)
			}
			fmt.Fprintf(&b, "%d:%d,", w.limit, int(w.per/time.Second))
		}
		again, err := parseRateLimit(b.String())
		if err != nil || !equalWindows(ws, again) {
			t.Fatalf("%q: round trip %q: %v %v", s, b.String(), again, err)
		}
	})
}

// FuzzSessionLimits: any getSessionLimits answer yields sane limits.
func FuzzSessionLimits(f *testing.F) {
	f.Add(`{"maxPayloadSize":65536,"maxInflightMessages":100,"rateLimits":{"messages":"10:1"},"gatewayRateLimits":{"telemetryMessages":"5:1,100:60","telemetryDataPoints":"0:0"}}`)
	f.Add(`{"maxPayloadSize":-5,"maxInflightMessages":-1}`)
	f.Add(`{"maxPayloadSize":1,"gatewayRateLimits":{"messages":"1:1"}}`)
	f.Add(`{"rateLimits":{"messages":"x"}}`)
	f.Fuzz(func(t *testing.T, s string) {
		var sl sessionLimits
		if json.Unmarshal([]byte(s), &sl) != nil {
			return
		}
		c, err := New(Config{Host: "h", Security: Security{AccessToken: "x"}}, nil, Handler{})
		if err != nil {
			t.Fatal(err)
		}
		l := c.applySessionLimits(&sl)
		if l.MaxPayload < 1 || l.MaxInflight < 1 || l.MaxInflight > DefaultMaxInflight || l.ServerMaxPayload < 0 {
			t.Fatalf("%s: limits %+v", s, l)
		}
		if l.ServerMaxPayload > 0 && l.MaxPayload > l.ServerMaxPayload {
			t.Fatalf("%s: budget above server max: %+v", s, l)
		}
		c.rl.reserve(TopicGatewayTelemetry, 5) // must not panic
	})
}
