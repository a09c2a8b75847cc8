package rig

import (
	"bytes"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"
)

// SessionLimits is the getSessionLimits answer of the stand-in:
// ThingsBoard's default payload limit, no rate limits.
const SessionLimits = `{"maxPayloadSize":65536,"maxInflightMessages":1000,` +
	`"rateLimits":{"messages":"","telemetryMessages":"","telemetryDataPoints":""},` +
	`"gatewayRateLimits":{"messages":"","telemetryMessages":"","telemetryDataPoints":""}}`

// ThingsBoard is the ThingsBoard side: an embedded MQTT broker (mochi) on
// 127.0.0.1 whose publish hook plays ThingsBoard. Every telemetry message
// of the gateway is counted into the Ledger before the broker sends its
// PUBACK, as ThingsBoard acknowledges only what it has taken; nothing the
// gateway publishes is routed to other subscribers (ThingsBoard is not a
// broker). It answers getSessionLimits. Stop and Start simulate outages on
// the same port.
type ThingsBoard struct {
	Port int
	led  *Ledger

	mu  sync.Mutex
	srv *mqtt.Server

	connects  atomic.Int64 // getSessionLimits requests seen
	lastConn  atomic.Int64 // ledger time of the last one
	firstData atomic.Int64 // ledger time of the first telemetry after the last connect
	msgs      atomic.Int64 // telemetry messages
	others    atomic.Int64 // other gateway messages
	malformed atomic.Int64
}

// StartThingsBoard starts the stand-in on a random port.
func StartThingsBoard(led *Ledger) (*ThingsBoard, error) {
	tb := &ThingsBoard{led: led}
	if err := tb.Start(); err != nil {
		return nil, err
	}
	return tb, nil
}

// Addr is host:port of the broker.
func (tb *ThingsBoard) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(tb.Port)) }

// Start starts a stopped stand-in again on the same port.
func (tb *ThingsBoard) Start() error {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	if tb.srv != nil {
		return nil
	}
	srv := mqtt.New(&mqtt.Options{InlineClient: true, Logger: slog.New(slog.DiscardHandler)})
	if err := srv.AddHook(&tbHook{tb: tb, srv: srv}, nil); err != nil {
		return err
	}
	l, err := listenRetry(tb.Port, 10*time.Second)
	if err != nil {
		return fmt.Errorf("thingsboard stand-in: %w", err)
	}
	tb.Port = l.Addr().(*net.TCPAddr).Port
	if err := srv.AddListener(listeners.NewNet("tb", l)); err != nil {
		_ = l.Close()
		return err
	}
	if err := srv.Serve(); err != nil {
		_ = srv.Close()
		return err
	}
	tb.srv = srv
	return nil
}

// Stop closes the broker and every connection. Idempotent.
func (tb *ThingsBoard) Stop() {
	tb.mu.Lock()
	srv := tb.srv
	tb.srv = nil
	tb.mu.Unlock()
	if srv != nil {
		_ = srv.Close()
	}
}

// Running reports whether the stand-in is up.
func (tb *ThingsBoard) Running() bool {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	return tb.srv != nil
}

// Connects is the number of gateway sessions set up so far (session
// limits requested).
func (tb *ThingsBoard) Connects() int64 { return tb.connects.Load() }

// LastConnect is the ledger time of the last session setup.
func (tb *ThingsBoard) LastConnect() time.Duration { return time.Duration(tb.lastConn.Load()) }

// FirstDataAfterConnect is the ledger time of the first telemetry message
// of the last session, 0 before it.
func (tb *ThingsBoard) FirstDataAfterConnect() time.Duration {
	return time.Duration(tb.firstData.Load())
}

// Messages returns the telemetry messages, other gateway messages and
// malformed telemetry messages received.
func (tb *ThingsBoard) Messages() (telemetry, other, malformed int64) {
	return tb.msgs.Load(), tb.others.Load(), tb.malformed.Load()
}

// listenRetry binds 127.0.0.1:port (0: any), retrying a busy fixed port
// for a bounded time (a restart may race the old socket's close).
func listenRetry(port int, wait time.Duration) (net.Listener, error) {
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	deadline := time.Now().Add(wait)
	for {
		l, err := net.Listen("tcp", addr)
		if err == nil || port == 0 || time.Now().After(deadline) {
			return l, err
		}
		time.Sleep(20 * time.Millisecond)
	}
}

type tbHook struct {
	mqtt.HookBase
	tb  *ThingsBoard
	srv *mqtt.Server
}

func (h *tbHook) ID() string { return "thingsboard" }

func (h *tbHook) Provides(b byte) bool {
	return b == mqtt.OnConnectAuthenticate || b == mqtt.OnACLCheck || b == mqtt.OnPublish
}

func (h *tbHook) OnConnectAuthenticate(*mqtt.Client, packets.Packet) bool { return true }
func (h *tbHook) OnACLCheck(*mqtt.Client, string, bool) bool              { return true }

const rpcRequest = "v1/devices/me/rpc/request/"

// OnPublish runs on the publishing client's reader before the PUBACK.
func (h *tbHook) OnPublish(cl *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	if cl.Net.Inline {
		return pk, nil // our own answers
	}
	tb := h.tb
	switch topic := pk.TopicName; {
	case topic == "v1/gateway/telemetry":
		tb.msgs.Add(1)
		if tb.firstData.Load() == 0 {
			tb.firstData.Store(tb.led.Now())
		}
		err := ScanTelemetry(pk.Payload, func(e *Entry) {
			tb.led.Raw(e.Points)
			if !e.HasSeq || !e.HasT || e.Seq < 0 {
				return
			}
			tb.led.Deliver(e.Device, uint64(e.Seq), e.TS, int64(e.T), e.Points)
		})
		if err != nil {
			tb.malformed.Add(1)
		}
	case strings.HasPrefix(topic, rpcRequest) && bytes.Contains(pk.Payload, []byte(`"getSessionLimits"`)):
		tb.firstData.Store(0)
		tb.lastConn.Store(tb.led.Now())
		tb.connects.Add(1)
		_ = h.srv.Publish("v1/devices/me/rpc/response/"+topic[len(rpcRequest):], []byte(SessionLimits), false, 1)
	default:
		tb.others.Add(1)
	}
	// Acknowledged, not routed: ThingsBoard is not a broker.
	return pk, packets.CodeSuccessIgnore
}
