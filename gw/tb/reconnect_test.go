package tb_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tbgw/tbgw/gw/tb"
	"github.com/tbgw/tbgw/gw/tbtest"
)

// broker is what the reconnect tests need of mochi and mosquitto.
type broker interface {
	Stop()
	Start()
}

func sessionLimitRequests(thingsboard *tbtest.ThingsBoard) int {
	n := 0
	for _, m := range thingsboard.Messages("") {
		if strings.HasPrefix(m.Topic, tb.TopicRPCRequestPrefix) && strings.Contains(string(m.Payload), "getSessionLimits") {
			n++
		}
	}
	return n
}

// testReconnect restarts the broker under a connected client. The client
// goes through a relay that is blocked until the stand-in is subscribed
// again, so the new session's getSessionLimits request is answered.
func testReconnect(t *testing.T, b broker, host string, port int) {
	thingsboard := tbtest.NewThingsBoard(t, host, port)
	relay := tbtest.StartProxy(t, net.JoinHostPort(host, strconv.Itoa(port)))
	in := newInbox()
	c := mustNew(t, fastCfg(relay.Host, relay.Port), in.handler())
	run(t, c)
	eventually(t, 10*time.Second, "connected", c.Connected)
	thingsboard.Wait(5*time.Second, "first getSessionLimits", func() bool { return sessionLimitRequests(thingsboard) == 1 })
	if l := c.Limits(); l.ServerMaxPayload != 65536 {
		t.Fatalf("limits %+v", l)
	}

	relay.Block(true)
	b.Stop()
	eventually(t, 10*time.Second, "disconnect noticed", func() bool { return !c.Connected() })
	if _, err := c.Publish(context.Background(), tb.TopicTelemetry, []byte(`{"a":1}`), 1, 1); !errors.Is(err, tb.ErrNotConnected) {
		t.Fatalf("Publish while down: %v", err)
	}
	thingsboard.SetSessionLimits(map[string]any{"maxPayloadSize": 2000, "maxInflightMessages": 10})
	b.Start()
	thingsboard.WaitSessions(2, 15*time.Second)
	// Unblock only after an attempt failed behind the blocked relay, so
	// the failure count below does not depend on timing.
	eventually(t, 30*time.Second, "a failed attempt", func() bool { return c.Stats().ConnectFailures > 0 })
	relay.Block(false)
	eventually(t, 15*time.Second, "reconnected", func() bool { return c.Connected() && in.connectCount() == 2 })
	if st := c.Stats(); st.Reconnects != 1 || st.Connects != 2 || st.ConnectFailures == 0 {
		t.Fatalf("stats after reconnect %+v", st)
	}
	in.mu.Lock()
	discs := len(in.discs)
	in.mu.Unlock()
	if discs != 1 {
		t.Fatalf("OnDisconnect called %d times", discs)
	}
	// The new session asks for limits again (after it is up: it starts
	// with the known ones) and applies them...
	eventually(t, 10*time.Second, "a second getSessionLimits request", func() bool { return sessionLimitRequests(thingsboard) == 2 })
	// (The new session started with the known limits; the answer
	// replaces them when it comes.)
	eventually(t, 10*time.Second, "the new limits applied", func() bool {
		l := c.Limits()
		return l.ServerMaxPayload == 2000 && l.MaxPayload == 1600 && l.MaxInflight == 8 && l.FromServer
	})
	// ...and is subscribed again (clean session: only a new SUBSCRIBE
	// delivers this).
	thingsboard.SetAttributes("devA", map[string]any{"after": "restart"})
	eventually(t, 5*time.Second, "attribute update after restart", func() bool { return in.has(`"after":"restart"`) })
	if err := publishWait(t, c, tb.TopicGatewayTelemetry, `{"devA":{"back":1}}`); err != nil {
		t.Fatal(err)
	}
	thingsboard.WaitTelemetry("devA", "back", nil, 5*time.Second)
	// Our own session-limit requests never reach the handler (echo on
	// brokers that deliver a client's publishes back to it).
	if in.has("getSessionLimits") {
		t.Fatal("own getSessionLimits request delivered to OnMessage")
	}
}

func TestReconnectMochi(t *testing.T) {
	b := tbtest.StartBroker(t)
	testReconnect(t, b, b.Host, b.Port)
}

func TestReconnectMosquitto(t *testing.T) {
	m := tbtest.StartMosquitto(t)
	testReconnect(t, m, m.Host, m.Port)
}

// No token may report success without a PUBACK: the broker swallows the
// publishes, then dies.
func TestNoAckWithoutPuback(t *testing.T) {
	b := tbtest.StartBroker(t)
	tbtest.NewThingsBoard(t, b.Host, b.Port)
	c := mustNew(t, fastCfg(b.Host, b.Port), tb.Handler{})
	run(t, c)
	eventually(t, 10*time.Second, "connected", c.Connected)

	b.DropPublishes(true)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var toks []tb.Token
	for i := range 50 {
		tok, err := c.Publish(ctx, tb.TopicGatewayTelemetry, fmt.Appendf(nil, `{"d":{"i":%d}}`, i), 1, 1)
		if err != nil {
			t.Fatal(err)
		}
		toks = append(toks, tok)
	}
	eventually(t, 5*time.Second, "publishes reached the broker", func() bool { return b.Published() >= 50 })
	for i, tok := range toks {
		select {
		case <-tok.Done():
			t.Fatalf("token %d completed without PUBACK (err %v)", i, tok.Wait(ctx))
		default:
		}
	}
	b.Stop()
	for i, tok := range toks {
		if err := tok.Wait(ctx); !errors.Is(err, tb.ErrConnectionLost) {
			t.Fatalf("token %d: %v, want ErrConnectionLost", i, err)
		}
	}
	eventually(t, 5*time.Second, "failures counted", func() bool { return c.Stats().MessagesFailed >= 50 })
	if st := c.Stats(); st.MessagesSent != 0 {
		t.Fatalf("stats %+v", st)
	}
}

// Kill a real broker while a publisher streams QoS 1 messages: every
// token completes (none hangs), and the client recovers after restart.
func TestKillBrokerMidPublish(t *testing.T) {
	m := tbtest.StartMosquitto(t)
	thingsboard := tbtest.NewThingsBoard(t, m.Host, m.Port)
	c := mustNew(t, fastCfg(m.Host, m.Port), tb.Handler{})
	run(t, c)
	eventually(t, 10*time.Second, "connected", c.Connected)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var ok, failed atomic.Int64
	var wg sync.WaitGroup
	stopPub := make(chan struct{})
	payload := []byte(`{"dev":{"v":1}}`)
	wg.Go(func() {
		for i := 0; i < 200000; i++ {
			select {
			case <-stopPub:
				return
			default:
			}
			tok, err := c.Publish(ctx, tb.TopicGatewayTelemetry, payload, 1, 1)
			if err != nil {
				failed.Add(1)
				if errors.Is(err, tb.ErrNotConnected) {
					return
				}
				continue
			}
			wg.Go(func() {
				if tok.Wait(ctx) == nil {
					ok.Add(1)
				} else {
					failed.Add(1)
				}
			})
		}
	})
	eventually(t, 10*time.Second, "traffic flowing", func() bool { return ok.Load() > 100 })
	m.Stop()
	close(stopPub)
	wg.Wait() // every token completed: none hangs past the loss
	if ctx.Err() != nil {
		t.Fatal("tokens did not complete in time")
	}
	if failed.Load() == 0 {
		t.Fatal("no publish failed although the broker was killed mid-stream")
	}
	if got := thingsboard.Count(tb.TopicGatewayTelemetry); int64(got) > ok.Load()+failed.Load() {
		t.Fatalf("stand-in saw %d messages, more than published", got)
	}
	m.Start()
	eventually(t, 15*time.Second, "reconnected", func() bool { return c.Connected() && c.Stats().Reconnects == 1 })
	if err := publishWait(t, c, tb.TopicGatewayTelemetry, string(payload)); err != nil {
		t.Fatal(err)
	}
}

// A network cut (broker stays up) is noticed and healed.
func TestNetworkCut(t *testing.T) {
	b := tbtest.StartBroker(t)
	thingsboard := tbtest.NewThingsBoard(t, b.Host, b.Port)
	relay := tbtest.StartProxy(t, b.Addr())
	c := mustNew(t, fastCfg(relay.Host, relay.Port), tb.Handler{})
	run(t, c)
	eventually(t, 10*time.Second, "connected", c.Connected)
	relay.Cut()
	eventually(t, 15*time.Second, "reconnected", func() bool { return c.Connected() && c.Stats().Reconnects == 1 })
	if err := publishWait(t, c, tb.TopicGatewayTelemetry, `{"devC":{"x":1}}`); err != nil {
		t.Fatal(err)
	}
	thingsboard.WaitTelemetry("devC", "x", nil, 5*time.Second)
}

// The client connects through an HTTP CONNECT proxy.
func TestHTTPProxy(t *testing.T) {
	b := tbtest.StartBroker(t)
	thingsboard := tbtest.NewThingsBoard(t, b.Host, b.Port)
	proxy := tbtest.StartProxy(t, "")
	cfg := fastCfg(b.Host, b.Port)
	cfg.ProxyHost, cfg.ProxyPort = proxy.Host, proxy.Port
	connectAndSend(t, mustNew(t, cfg, tb.Handler{}), thingsboard)
	if proxy.Tunnels() != 1 || proxy.LastConnect() != b.Addr() {
		t.Fatalf("proxy tunnels %d to %q", proxy.Tunnels(), proxy.LastConnect())
	}
	// A refusing proxy means no connection.
	proxy.Block(true)
	neverConnects(t, mustNew(t, cfg, tb.Handler{}))
}

// Run returns promptly on cancel, also while reconnecting and while a
// publisher waits for an in-flight slot.
func TestRunStopsWhileDown(t *testing.T) {
	b := tbtest.StartBroker(t)
	c := mustNew(t, fastCfg(b.Host, b.Port), tb.Handler{})
	stop := run(t, c)
	eventually(t, 10*time.Second, "connected", c.Connected) // limits time out without stand-in
	b.Stop()
	eventually(t, 10*time.Second, "down", func() bool { return !c.Connected() })
	stop()
}

// Sessions leave no goroutines behind: after reconnects and shutdown the
// count returns to where it was.
func TestNoGoroutineLeak(t *testing.T) {
	b := tbtest.StartBroker(t)
	tbtest.NewThingsBoard(t, b.Host, b.Port)
	relay := tbtest.StartProxy(t, b.Addr())
	base := runtime.NumGoroutine()
	c := mustNew(t, fastCfg(relay.Host, relay.Port), tb.Handler{})
	stop := run(t, c)
	for i := range 3 {
		eventually(t, 10*time.Second, "connected", func() bool { return c.Connected() && c.Stats().Connects == uint64(i+1) })
		if err := publishWait(t, c, tb.TopicGatewayTelemetry, `{"d":{"v":1}}`); err != nil {
			t.Fatal(err)
		}
		relay.Cut()
	}
	eventually(t, 10*time.Second, "connected", c.Connected)
	stop()
	eventually(t, 10*time.Second, "goroutines back to the baseline", func() bool {
		return runtime.NumGoroutine() <= base
	})
}

// A link that silently stops carrying bytes is detected by the keep-alive,
// in-flight publishes fail, and the session comes back when it heals.
func TestKeepAliveDetectsBlackHole(t *testing.T) {
	b := tbtest.StartBroker(t)
	thingsboard := tbtest.NewThingsBoard(t, b.Host, b.Port)
	relay := tbtest.StartProxy(t, b.Addr())
	cfg := fastCfg(relay.Host, relay.Port)
	cfg.KeepAliveSec = 1
	c := mustNew(t, cfg, tb.Handler{})
	run(t, c)
	eventually(t, 10*time.Second, "connected", c.Connected)
	relay.Freeze(true)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	tok, err := c.Publish(ctx, tb.TopicGatewayTelemetry, []byte(`{"d":{"v":1}}`), 1, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := tok.Wait(ctx); !errors.Is(err, tb.ErrConnectionLost) {
		t.Fatalf("publish into a black hole: %v", err)
	}
	eventually(t, 10*time.Second, "loss noticed", func() bool { return !c.Connected() })
	relay.Freeze(false)
	eventually(t, 15*time.Second, "reconnected", func() bool { return c.Connected() && c.Stats().Reconnects >= 1 })
	if err := publishWait(t, c, tb.TopicGatewayTelemetry, `{"d":{"v":2}}`); err != nil {
		t.Fatal(err)
	}
	thingsboard.WaitTelemetry("d", "v", func(v any) bool { return v == 2.0 }, 5*time.Second)
}

// Cancelling Run while the CONNACK never comes returns at once, not after
// the connect timeout.
func TestRunStopsWhileConnecting(t *testing.T) {
	b := tbtest.StartBroker(t)
	relay := tbtest.StartProxy(t, b.Addr())
	relay.Freeze(true)
	cfg := fastCfg(relay.Host, relay.Port)
	cfg.ConnectTimeout = time.Minute
	c := mustNew(t, cfg, tb.Handler{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	eventually(t, 10*time.Second, "connection attempt relayed", func() bool { return relay.Tunnels() >= 1 })
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Run did not return while connecting")
	}
	relay.Freeze(false)
}
