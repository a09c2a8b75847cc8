package tbtest

import (
	"encoding/json"
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// fakeGateway is a bare MQTT client playing the gateway.
type fakeGateway struct {
	t  *testing.T
	mc paho.Client
	in chan paho.Message
}

func newFakeGateway(t *testing.T, host string, port int) *fakeGateway {
	g := &fakeGateway{t: t, in: make(chan paho.Message, 100)}
	o := paho.NewClientOptions().AddBroker("tcp://" + net.JoinHostPort(host, strconv.Itoa(port)))
	o.SetClientID("fake-gw").SetUsername("token").SetCleanSession(true).SetAutoReconnect(false)
	o.SetDefaultPublishHandler(func(_ paho.Client, m paho.Message) { g.in <- m })
	g.mc = paho.NewClient(o)
	if tok := g.mc.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("connect: %v", tok.Error())
	}
	t.Cleanup(func() { g.mc.Disconnect(50) })
	st := g.mc.SubscribeMultiple(map[string]byte{"v1/gateway/rpc": 1, "v1/gateway/attributes": 1,
		"v1/gateway/attributes/response": 1, "v1/devices/me/#": 1}, nil)
	if !st.WaitTimeout(5*time.Second) || st.Error() != nil {
		t.Fatalf("subscribe: %v", st.Error())
	}
	return g
}

func (g *fakeGateway) pub(topic, payload string) {
	g.t.Helper()
	tok := g.mc.Publish(topic, 1, false, payload)
	if !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		g.t.Fatalf("publish: %v", tok.Error())
	}
}

// next returns the next message on topic (prefix), skipping others and
// the gateway's own echoes.
func (g *fakeGateway) next(prefix string) paho.Message {
	g.t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case m := <-g.in:
			if strings.HasPrefix(m.Topic(), prefix) {
				return m
			}
		case <-deadline:
			g.t.Fatalf("no message on %s", prefix)
		}
	}
}

func standInScenario(t *testing.T, host string, port int) {
	tb := NewThingsBoard(t, host, port)
	g := newFakeGateway(t, host, port)

	g.pub("v1/gateway/connect", `{"device":"d1","type":"t"}`)
	g.pub("v1/gateway/connect", `{"device":"d2"}`)
	g.pub("v1/gateway/disconnect", `{"device":"d2"}`)
	g.pub("v1/gateway/telemetry", `{"d1":[{"ts":5,"values":{"a":1}},{"b":2}],"d3":{"c":3},"d4":{"ts":7,"values":{"e":4}}}`)
	g.pub("v1/gateway/attributes", `{"d1":{"fw":"1"}}`)
	g.pub("v1/devices/me/telemetry", `[{"ts":9,"values":{"cpu":5}}]`)
	g.pub("v1/devices/me/attributes", `{"Version":"x"}`)
	tb.WaitTelemetry(Self, "cpu", nil, 5*time.Second)
	tb.WaitAttribute(Self, "Version", nil, 5*time.Second)
	tb.WaitAttribute("d1", "fw", func(v any) bool { return v == "1" }, 5*time.Second)
	if got := tb.Connected(); fmt.Sprint(got) != "[d1]" || tb.Connects("d2") != 1 {
		t.Fatalf("connected %v", got)
	}
	ts := tb.Telemetry("d1")
	if len(ts) != 2 || ts[0].Ts != 5 || ts[0].Values["a"] != 1.0 || ts[1].Values["b"] != 2.0 {
		t.Fatalf("d1 telemetry %+v", ts)
	}
	if v, ok := tb.Latest("d3", "c"); !ok || v != 3.0 {
		t.Fatalf("d3 %v", v)
	}
	if ts := tb.Telemetry("d4"); len(ts) != 1 || ts[0].Ts != 7 {
		t.Fatalf("d4 %+v", ts)
	}
	if tb.Count("v1/gateway/telemetry") != 1 || len(tb.Messages("v1/gateway/connect")) != 2 {
		t.Fatal("message log")
	}

	// getSessionLimits and attribute requests are answered.
	g.pub("v1/devices/me/rpc/request/7", `{"method":"getSessionLimits","params":{"timeout":5000}}`)
	if m := g.next("v1/devices/me/rpc/response/7"); !strings.Contains(string(m.Payload()), "maxPayloadSize") {
		t.Fatalf("limits answer %s", m.Payload())
	}
	tb.SetAttributeTable("d1", false, map[string]any{"sp": 3})
	g.pub("v1/gateway/attributes/request", `{"id":4,"device":"d1","client":false,"keys":["sp"]}`)
	if m := g.next("v1/gateway/attributes/response"); string(m.Payload()) != `{"device":"d1","id":4,"value":3}` {
		t.Fatalf("attribute answer %s", m.Payload())
	}
	tb.SetAttributeTable(Self, true, map[string]any{"c1": "x"})
	g.pub("v1/devices/me/attributes/request/2", `{"clientKeys":"c1,zz"}`)
	if m := g.next("v1/devices/me/attributes/response/2"); string(m.Payload()) != `{"client":{"c1":"x"},"shared":{}}` {
		t.Fatalf("own attribute answer %s", m.Payload())
	}

	// Downlink.
	tb.SetAttributes("d1", map[string]any{"k": 1})
	if m := g.next("v1/gateway/attributes"); string(m.Payload()) != `{"data":{"k":1},"device":"d1"}` {
		t.Fatalf("attribute update %s", m.Payload())
	}
	done := make(chan json.RawMessage, 1)
	go func() {
		r, err := tb.RPC("d1", "get", map[string]any{"x": 1}, 5*time.Second)
		if err != nil {
			t.Error(err)
		}
		done <- r
	}()
	m := g.next("v1/gateway/rpc")
	var req struct {
		Device string
		Data   struct {
			ID     int
			Method string
		}
	}
	if err := json.Unmarshal(m.Payload(), &req); err != nil || req.Device != "d1" || req.Data.Method != "get" {
		t.Fatalf("rpc request %s", m.Payload())
	}
	g.pub("v1/gateway/rpc", fmt.Sprintf(`{"device":"d1","id":%d,"data":{"result":42}}`, req.Data.ID))
	if r := <-done; string(r) != `{"result":42}` {
		t.Fatalf("rpc reply %s", r)
	}
	go func() {
		r, err := tb.GatewayRPC("gateway_ping", nil, 5*time.Second)
		if err != nil {
			t.Error(err)
		}
		done <- r
	}()
	m = g.next("v1/devices/me/rpc/request/")
	id := strings.TrimPrefix(m.Topic(), "v1/devices/me/rpc/request/")
	g.pub("v1/devices/me/rpc/response/"+id, `{"code":200,"resp":"pong"}`)
	if r := <-done; string(r) != `{"code":200,"resp":"pong"}` {
		t.Fatalf("gateway rpc reply %s", r)
	}
	// The stand-in's own publishes were not recorded as the gateway's.
	for _, m := range tb.Messages("") {
		if strings.Contains(string(m.Payload), `"data":{"k":1}`) || strings.Contains(string(m.Payload), `"method":"get"`) {
			t.Fatalf("own publish recorded: %s %s", m.Topic, m.Payload)
		}
	}
}

func TestStandInMochi(t *testing.T) {
	b := StartBroker(t)
	standInScenario(t, b.Host, b.Port)
}

func TestStandInMosquitto(t *testing.T) {
	m := StartMosquitto(t)
	standInScenario(t, m.Host, m.Port)
}

func TestBrokerRestartSamePort(t *testing.T) {
	b := StartBroker(t, WithTLS(NewPKI(t, "").ServerTLS(false)))
	port, tlsPort := b.Port, b.TLSPort
	tb := NewThingsBoard(t, b.Host, b.Port)
	for i := range 3 {
		b.Stop()
		if canDial(port) {
			t.Fatal("still listening after Stop")
		}
		b.Start()
		if b.Port != port || b.TLSPort != tlsPort || !canDial(port) || !canDial(tlsPort) {
			t.Fatalf("restart %d: ports %d/%d", i, b.Port, b.TLSPort)
		}
		tb.WaitSessions(int64(i+2), 10*time.Second)
	}
}

func TestMosquittoRestartSamePort(t *testing.T) {
	m := StartMosquitto(t)
	port := m.Port
	tb := NewThingsBoard(t, m.Host, m.Port)
	m.Stop()
	if canDial(port) {
		t.Fatal("still listening after Stop")
	}
	m.Start()
	if m.Port != port || !canDial(port) {
		t.Fatal("not back on the same port")
	}
	tb.WaitSessions(2, 10*time.Second)
}

func TestProxyCutAndBlock(t *testing.T) {
	b := StartBroker(t)
	p := StartProxy(t, b.Addr())
	g := newFakeGateway(t, p.Host, p.Port)
	if p.Tunnels() != 1 {
		t.Fatal("not relayed")
	}
	p.Block(true)
	p.Cut()
	deadline := time.Now().Add(5 * time.Second)
	for g.mc.IsConnectionOpen() {
		if time.Now().After(deadline) {
			t.Fatal("relayed connection survived Cut")
		}
		time.Sleep(5 * time.Millisecond)
	}
	o := paho.NewClientOptions().AddBroker("tcp://" + p.Addr()).SetConnectTimeout(2 * time.Second)
	c := paho.NewClient(o)
	if tok := c.Connect(); tok.WaitTimeout(5*time.Second) && tok.Error() == nil {
		t.Fatal("connected through a blocked proxy")
	}
}

func FuzzParseTS(f *testing.F) {
	for _, s := range []string{`[{"ts":1,"values":{"a":1}}]`, `{"a":1}`, `[{"a":1},{"ts":2,"values":{}}]`, `[`, `1`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, r := range parseTS([]byte(s), time.Unix(0, 0)) {
			if r.Values == nil {
				t.Fatalf("%q: record without values", s)
			}
		}
	})
}
