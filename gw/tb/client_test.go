package tb_test

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tbgw/tbgw/gw/tb"
	"github.com/tbgw/tbgw/gw/tbtest"
)

// testLog logs to stderr when TBGW_TEST_LOG is set, else nowhere.
func testLog() *slog.Logger {
	if os.Getenv("TBGW_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// inbox collects Handler callbacks.
type inbox struct {
	mu       sync.Mutex
	msgs     []string // "topic payload"
	connects int
	discs    []error
	ch       chan struct{}
}

func newInbox() *inbox { return &inbox{ch: make(chan struct{}, 1)} }

func (b *inbox) poke() {
	select {
	case b.ch <- struct{}{}:
	default:
	}
}

func (b *inbox) handler() tb.Handler {
	return tb.Handler{
		OnConnect: func() { b.mu.Lock(); b.connects++; b.mu.Unlock(); b.poke() },
		OnDisconnect: func(err error) {
			b.mu.Lock()
			b.discs = append(b.discs, err)
			b.mu.Unlock()
			b.poke()
		},
		OnMessage: func(topic string, payload []byte) {
			b.mu.Lock()
			b.msgs = append(b.msgs, topic+" "+string(payload))
			b.mu.Unlock()
			b.poke()
		},
	}
}

func (b *inbox) connectCount() int { b.mu.Lock(); defer b.mu.Unlock(); return b.connects }

func (b *inbox) has(s string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, m := range b.msgs {
		if strings.Contains(m, s) {
			return true
		}
	}
	return false
}

// eventually polls cond until it holds or fails the test after timeout.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// run starts c.Run and stops it when the test ends, checking it returns.
func run(t *testing.T, c *tb.Client) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run: %v", err)
				}
			case <-time.After(15 * time.Second):
				t.Errorf("Run did not return after cancel")
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

func fastCfg(host string, port int) tb.Config {
	return tb.Config{
		Host: host, Port: port, QoS: 1, KeepAliveSec: 10,
		Security:             tb.Security{AccessToken: "tok"},
		ReconnectMin:         20 * time.Millisecond,
		ReconnectMax:         200 * time.Millisecond,
		ConnectTimeout:       5 * time.Second,
		SessionLimitsTimeout: 2 * time.Second,
	}
}

func mustNew(t *testing.T, cfg tb.Config, h tb.Handler) *tb.Client {
	t.Helper()
	c, err := tb.New(cfg, testLog(), h)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func publishWait(t *testing.T, c *tb.Client, topic, payload string) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tok, err := c.Publish(ctx, topic, []byte(payload), 1, -1)
	if err != nil {
		return err
	}
	return tok.Wait(ctx)
}

func TestTokenConnectPublishSubscribe(t *testing.T) {
	var gotUser string
	var mu sync.Mutex
	b := tbtest.StartBroker(t, tbtest.WithAuth(func(ci tbtest.ConnInfo) bool {
		mu.Lock()
		gotUser = ci.Username
		mu.Unlock()
		return ci.Username == "tok" && ci.Password == ""
	}))
	thingsboard := tbtest.NewThingsBoard(t, b.Host, b.Port)
	in := newInbox()
	c := mustNew(t, fastCfg(b.Host, b.Port), in.handler())
	run(t, c)
	eventually(t, 10*time.Second, "connected", c.Connected)
	if in.connectCount() != 1 {
		t.Fatalf("OnConnect called %d times", in.connectCount())
	}
	mu.Lock()
	if gotUser != "tok" {
		t.Errorf("username %q, want the access token", gotUser)
	}
	mu.Unlock()
	if l := c.Limits(); !l.FromServer || l.ServerMaxPayload != 65536 || l.MaxPayload != 52428 {
		t.Errorf("limits %+v, want the stand-in's session limits applied", l)
	}

	if err := publishWait(t, c, tb.TopicGatewayConnect, `{"device":"dev1","type":"default"}`); err != nil {
		t.Fatal(err)
	}
	if err := publishWait(t, c, tb.TopicGatewayTelemetry, `{"dev1":[{"ts":1000,"values":{"temp":21.5}}]}`); err != nil {
		t.Fatal(err)
	}
	thingsboard.WaitConnected("dev1", 5*time.Second)
	thingsboard.WaitTelemetry("dev1", "temp", func(v any) bool { return v == 21.5 }, 5*time.Second)

	thingsboard.SetAttributes("dev1", map[string]any{"setpoint": 7})
	eventually(t, 5*time.Second, "attribute update delivered", func() bool {
		return in.has(`v1/gateway/attributes {"data":{"setpoint":7},"device":"dev1"}`)
	})
	thingsboard.SetGatewayAttributes(map[string]any{"RemoteLoggingLevel": "DEBUG"})
	eventually(t, 5*time.Second, "own attribute update delivered", func() bool {
		return in.has(`v1/devices/me/attributes {"RemoteLoggingLevel":"DEBUG"}`)
	})
	st := c.Stats()
	if st.MessagesSent < 2 || st.Connects != 1 || st.Reconnects != 0 || st.MessagesReceived < 2 {
		t.Errorf("stats %+v", st)
	}
}

func TestWrongTokenRefused(t *testing.T) {
	var attempts atomic.Int32
	b := tbtest.StartBroker(t, tbtest.WithAuth(func(ci tbtest.ConnInfo) bool {
		attempts.Add(1)
		return ci.Username == "right"
	}))
	c := mustNew(t, fastCfg(b.Host, b.Port), tb.Handler{})
	run(t, c)
	eventually(t, 10*time.Second, "three refused attempts", func() bool { return attempts.Load() >= 3 })
	if c.Connected() {
		t.Fatal("connected with a wrong token")
	}
	_, err := c.Publish(context.Background(), tb.TopicTelemetry, []byte(`{"a":1}`), 1, 1)
	if !errors.Is(err, tb.ErrNotConnected) {
		t.Fatalf("Publish while refused: %v, want ErrNotConnected", err)
	}
}
