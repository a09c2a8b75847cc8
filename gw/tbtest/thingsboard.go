package tbtest

import (
	"encoding/json"
	"fmt"
	"maps"
	"net"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// Self is the device name under which the stand-in records the gateway
// device's own telemetry and attributes (v1/devices/me/*).
const Self = ""

// Msg is one message the gateway published.
type Msg struct {
	Topic   string
	Payload []byte
	Time    time.Time
}

// TS is one telemetry record: ts in ms (the receive time when the gateway
// sent values without ts) and the values.
type TS struct {
	Ts     int64
	Values map[string]any
}

// DefaultSessionLimits is what the stand-in answers to getSessionLimits
// unless SetSessionLimits says otherwise: no rate limits.
const DefaultSessionLimits = `{"maxPayloadSize":65536,"maxInflightMessages":1000,` +
	`"rateLimits":{"messages":"","telemetryMessages":"","telemetryDataPoints":""},` +
	`"gatewayRateLimits":{"messages":"","telemetryMessages":"","telemetryDataPoints":""}}`

// standIns numbers stand-in client ids.
var standIns atomic.Int64

// maxKept bounds the recorded raw messages (oldest dropped first).
const maxKept = 50000

// ThingsBoard plays ThingsBoard for a gateway connected to the same broker:
// it records what the gateway publishes, answers session-limit and
// attribute requests, and sends attribute updates and RPCs. It reconnects
// and re-subscribes after broker restarts. All methods are safe for
// concurrent use; Wait* methods fail the test on timeout and must be called
// from the test goroutine.
type ThingsBoard struct {
	t  testing.TB
	mc paho.Client

	ready  atomic.Int64 // subscribed sessions so far
	nextID atomic.Int64
	limits atomic.Pointer[[]byte]
	fw     atomic.Pointer[[]byte] // firmware image served on v2/fw (firmware.go)
	prov   provisionState         // device provisioning (provision.go)

	mu        sync.Mutex
	changed   chan struct{} // closed and replaced on every recorded change
	msgs      []Msg
	counts    map[string]int
	own       map[string]ownPub // payloads we published, to ignore their echo
	telemetry map[string][]TS
	attrs     map[string]map[string]any
	connected []string
	conns     map[string]int // v1/gateway/connect count per device
	shared    map[string]map[string]any
	client    map[string]map[string]any
	rpcWait   map[string]chan json.RawMessage
}

// NewThingsBoard connects the stand-in to the broker at host:port as
// StandInUser and waits until it is subscribed.
func NewThingsBoard(t testing.TB, host string, port int) *ThingsBoard {
	t.Helper()
	tb := &ThingsBoard{
		t:         t,
		changed:   make(chan struct{}),
		counts:    map[string]int{},
		own:       map[string]ownPub{},
		telemetry: map[string][]TS{},
		attrs:     map[string]map[string]any{},
		conns:     map[string]int{},
		shared:    map[string]map[string]any{},
		client:    map[string]map[string]any{},
		rpcWait:   map[string]chan json.RawMessage{},
	}
	tb.SetSessionLimits(json.RawMessage(DefaultSessionLimits))
	o := paho.NewClientOptions()
	o.AddBroker("tcp://" + net.JoinHostPort(host, strconv.Itoa(port)))
	o.SetClientID(fmt.Sprintf("%s-%d-%d", StandInUser, os.Getpid(), standIns.Add(1)))
	o.SetUsername(StandInUser)
	o.SetCleanSession(true)
	o.SetOrderMatters(true)
	o.SetAutoReconnect(true)
	o.SetConnectRetry(true)
	o.SetConnectRetryInterval(100 * time.Millisecond)
	o.SetMaxReconnectInterval(250 * time.Millisecond)
	o.SetConnectTimeout(5 * time.Second)
	o.SetKeepAlive(30 * time.Second)
	o.SetDefaultPublishHandler(tb.onMessage)
	o.SetOnConnectHandler(func(c paho.Client) { // paho runs it on its own goroutine
		st := c.SubscribeMultiple(map[string]byte{"v1/gateway/#": 1, "v1/devices/me/#": 1, "v2/fw/request/+/chunk/+": 1, "/provision/request": 1}, nil)
		if st.WaitTimeout(10*time.Second) && st.Error() == nil {
			tb.ready.Add(1)
			tb.notify()
		}
	})
	tb.mc = paho.NewClient(o)
	tb.mc.Connect()
	t.Cleanup(func() { tb.mc.Disconnect(100) })
	tb.waitFor(10*time.Second, "stand-in subscribed", func() bool { return tb.ready.Load() > 0 })
	return tb
}

// Sessions returns how many times the stand-in has (re)subscribed.
func (tb *ThingsBoard) Sessions() int64 { return tb.ready.Load() }

// WaitSessions waits until the stand-in has subscribed n times in total
// (after broker restarts).
func (tb *ThingsBoard) WaitSessions(n int64, timeout time.Duration) {
	tb.t.Helper()
	tb.waitFor(timeout, fmt.Sprintf("stand-in session %d", n), func() bool { return tb.ready.Load() >= n })
}

// SetSessionLimits sets the getSessionLimits answer (any JSON-marshalable
// value or json.RawMessage); nil makes the stand-in ignore the request.
func (tb *ThingsBoard) SetSessionLimits(v any) {
	if v == nil {
		tb.limits.Store(nil)
		return
	}
	b := mustJSON(tb.t, v)
	tb.limits.Store(&b)
}

// SetAttributeTable sets the attribute values the stand-in answers
// attribute requests with: client-scope when client is true, else shared.
// device Self is the gateway device itself.
func (tb *ThingsBoard) SetAttributeTable(device string, client bool, values map[string]any) {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	if client {
		tb.client[device] = values
	} else {
		tb.shared[device] = values
	}
}

// Publish sends a raw message as ThingsBoard.
func (tb *ThingsBoard) Publish(topic string, payload []byte) {
	tb.t.Helper()
	tb.mu.Lock()
	tb.sentLocked(topic, payload)
	tb.mu.Unlock()
	t := tb.mc.Publish(topic, 1, false, payload)
	if !t.WaitTimeout(10*time.Second) || t.Error() != nil {
		tb.t.Errorf("tbtest: publish %s: %v", topic, t.Error())
	}
}

// SetAttributes sends a shared-attribute update for a sub-device
// (v1/gateway/attributes).
func (tb *ThingsBoard) SetAttributes(device string, values map[string]any) {
	tb.t.Helper()
	tb.Publish("v1/gateway/attributes", mustJSON(tb.t, map[string]any{"device": device, "data": values}))
}

// SetGatewayAttributes sends a shared-attribute update to the gateway
// device (v1/devices/me/attributes).
func (tb *ThingsBoard) SetGatewayAttributes(values map[string]any) {
	tb.t.Helper()
	tb.Publish("v1/devices/me/attributes", mustJSON(tb.t, values))
}

// RPC sends a server-side RPC to a sub-device (v1/gateway/rpc) and returns
// the "data" of the gateway's reply.
func (tb *ThingsBoard) RPC(device, method string, params any, timeout time.Duration) (json.RawMessage, error) {
	id := tb.nextID.Add(1)
	key := "dev\x00" + device + "\x00" + strconv.FormatInt(id, 10)
	ch := tb.expect(key)
	defer tb.unexpect(key)
	tb.Publish("v1/gateway/rpc", mustJSON(tb.t, map[string]any{
		"device": device, "data": map[string]any{"id": id, "method": method, "params": params}}))
	return tb.await(ch, timeout, fmt.Sprintf("RPC %s to %q", method, device))
}

// GatewayRPC sends an RPC to the gateway device
// (v1/devices/me/rpc/request/<id>) and returns its reply
// (v1/devices/me/rpc/response/<id>).
func (tb *ThingsBoard) GatewayRPC(method string, params any, timeout time.Duration) (json.RawMessage, error) {
	id := tb.nextID.Add(1)
	key := "me\x00" + strconv.FormatInt(id, 10)
	ch := tb.expect(key)
	defer tb.unexpect(key)
	tb.Publish("v1/devices/me/rpc/request/"+strconv.FormatInt(id, 10),
		mustJSON(tb.t, map[string]any{"method": method, "params": params}))
	return tb.await(ch, timeout, "gateway RPC "+method)
}

func (tb *ThingsBoard) expect(key string) chan json.RawMessage {
	ch := make(chan json.RawMessage, 1)
	tb.mu.Lock()
	tb.rpcWait[key] = ch
	tb.mu.Unlock()
	return ch
}

func (tb *ThingsBoard) unexpect(key string) {
	tb.mu.Lock()
	delete(tb.rpcWait, key)
	tb.mu.Unlock()
}

func (tb *ThingsBoard) await(ch chan json.RawMessage, timeout time.Duration, what string) (json.RawMessage, error) {
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case r := <-ch:
		return r, nil
	case <-t.C:
		return nil, fmt.Errorf("tbtest: %s: no reply within %v", what, timeout)
	}
}

func mustJSON(t testing.TB, v any) []byte {
	if r, ok := v.(json.RawMessage); ok {
		return r
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("tbtest: %v", err)
	}
	return b
}

// ownPub counts recent publishes of one topic+payload.
type ownPub struct {
	n  int
	at time.Time
}

// ownTTL bounds how long an own publish is expected back as an echo (on
// brokers that deliver a client's publishes to itself; ours does not).
const ownTTL = 10 * time.Second

func (tb *ThingsBoard) sentLocked(topic string, payload []byte) {
	if len(tb.own) > 1000 {
		maps.DeleteFunc(tb.own, func(_ string, o ownPub) bool { return time.Since(o.at) > ownTTL })
	}
	k := topic + "\x00" + string(payload)
	o := tb.own[k]
	tb.own[k] = ownPub{n: o.n + 1, at: time.Now()}
}

// echoLocked reports (once per publish) whether a message is the echo of
// a recent publish of ours.
func (tb *ThingsBoard) echoLocked(topic string, payload []byte) bool {
	k := topic + "\x00" + string(payload)
	o, ok := tb.own[k]
	if !ok {
		return false
	}
	if o.n <= 1 || time.Since(o.at) > ownTTL {
		delete(tb.own, k)
	} else {
		tb.own[k] = ownPub{n: o.n - 1, at: o.at}
	}
	return time.Since(o.at) <= ownTTL
}

// notify wakes every waiter; callers may hold tb.mu.
func (tb *ThingsBoard) notifyLocked() {
	close(tb.changed)
	tb.changed = make(chan struct{})
}

func (tb *ThingsBoard) notify() {
	tb.mu.Lock()
	tb.notifyLocked()
	tb.mu.Unlock()
}

// waitFor polls cond on every change until it holds or timeout passes, then
// fails the test.
func (tb *ThingsBoard) waitFor(timeout time.Duration, what string, cond func() bool) {
	tb.t.Helper()
	if !tb.Await(timeout, cond) {
		tb.t.Fatalf("tbtest: timed out after %v waiting for %s", timeout, what)
	}
}

// Await waits until cond (called without locks held) holds, re-checking on
// every recorded change and at least every 50 ms; false on timeout.
func (tb *ThingsBoard) Await(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for {
		tb.mu.Lock()
		ch := tb.changed
		tb.mu.Unlock()
		if cond() {
			return true
		}
		left := time.Until(deadline)
		if left <= 0 {
			return false
		}
		t := time.NewTimer(min(left, 50*time.Millisecond))
		select {
		case <-ch:
		case <-t.C:
		}
		t.Stop()
	}
}
