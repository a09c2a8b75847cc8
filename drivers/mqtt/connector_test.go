package mqtt

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tbgw/tbgw/codec"
	"github.com/tbgw/tbgw/drivers/drivertest"
	"github.com/tbgw/tbgw/gw/connector"
)

// testUplink is a custom converter for tests that do not exercise the
// codec converters: payload {"device":"D","v":1} gives telemetry v of D.
type testUplink struct{}

func (testUplink) Convert(topic string, payload []byte, nowMs int64) ([]codec.Data, error) {
	var m struct {
		Device string          `json:"device"`
		V      json.RawMessage `json:"v"`
	}
	if err := json.Unmarshal(payload, &m); err != nil {
		return nil, err
	}
	if m.Device == "" {
		return nil, errors.New("no device")
	}
	var v any
	_ = json.Unmarshal(m.V, &v)
	if f, ok := v.(float64); ok {
		v = f
	} else {
		v = string(m.V)
	}
	return []codec.Data{{Device: m.Device, Telemetry: []codec.Point{{Key: "v", Value: v}}}}, nil
}

func init() {
	codec.RegisterUplink("TestUplink", func(json.RawMessage) (codec.Uplink, error) { return testUplink{}, nil })
}

// recSink is drivertest.Sink that also records attribute request scopes
// and can fail Send on demand.
type recSink struct {
	*drivertest.Sink
	mu       sync.Mutex
	scopes   []string
	failSend error
}

func newRecSink() *recSink { return &recSink{Sink: drivertest.NewSink()} }

func (s *recSink) RequestAttributes(ctx context.Context, device string, client bool, keys []string) (map[string]any, error) {
	s.mu.Lock()
	sc := "shared"
	if client {
		sc = "client"
	}
	s.scopes = append(s.scopes, sc+":"+device+":"+strings.Join(keys, ","))
	s.mu.Unlock()
	return s.Sink.RequestAttributes(ctx, device, client, keys)
}

func (s *recSink) Send(ctx context.Context, items []connector.Data) error {
	s.mu.Lock()
	err := s.failSend
	s.mu.Unlock()
	if err != nil {
		return err
	}
	return s.Sink.Send(ctx, items)
}

func (s *recSink) setFail(err error) {
	s.mu.Lock()
	s.failSend = err
	s.mu.Unlock()
}

func (s *recSink) scopeLog() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.scopes...)
}

// brokerJSON is a broker block for m with MQTT version v.
func brokerJSON(m *mosquitto, v int, extra string) string {
	return fmt.Sprintf(`{"host":"127.0.0.1","port":%d,"clientId":"tbgw-test-%d-%d","version":%d,"keepAlive":10,
		"security":{"type":"anonymous"}%s}`, m.port, v, time.Now().UnixNano()%1e9, v, extra)
}

// startConn builds and runs a connector and waits until it is subscribed.
func startConn(t *testing.T, cfg string, sink connector.Sink) *Connector {
	t.Helper()
	c, err := newConnector([]byte(cfg), drivertest.Env(t, "mqtt", "mqtt"))
	if err != nil {
		t.Fatal(err)
	}
	drivertest.Run(t, c, sink)
	drivertest.Eventually(t, 15*time.Second, "connector connected", c.Connected)
	return c
}

var versions = []int{3, 4, 5}

func forVersions(t *testing.T, fn func(t *testing.T, v int)) {
	for _, v := range versions {
		t.Run(fmt.Sprintf("v%d", v), func(t *testing.T) { fn(t, v) })
	}
}

func TestConnectDisconnectRequests(t *testing.T) {
	forVersions(t, func(t *testing.T, v int) {
		m := startMosquitto(t)
		cfg := `{"broker":` + brokerJSON(m, v, "") + `,"mapping":[],
		"requestsMapping":{
		  "connectRequests":[
		    {"topicFilter":"sensor/connect","deviceInfo":{"deviceNameExpressionSource":"message","deviceNameExpression":"${SerialNumber}","deviceProfileExpressionSource":"constant","deviceProfileExpression":"Thermo"}},
		    {"topicFilter":"sensor/+/connect","deviceInfo":{"deviceNameExpressionSource":"topic","deviceNameExpression":"(?<=sensor/)(.*?)(?=/connect)"}}],
		  "disconnectRequests":[
		    {"topicFilter":"sensor/disconnect","deviceInfo":{"deviceNameExpressionSource":"message","deviceNameExpression":"${SerialNumber}"}},
		    {"topicFilter":"sensor/+/disconnect","deviceInfo":{"deviceNameExpressionSource":"topic","deviceNameExpression":"(?<=sensor/)(.*?)(?=/disconnect)"}}],
		  "attributeRequests":{},"attributeUpdates":{},"serverSideRpc":{}}}`
		sink := newRecSink()
		startConn(t, cfg, sink)
		dev := newDevClient(t, m.addr())
		dev.pub("sensor/connect", 1, `{"SerialNumber":"SN-1"}`)
		dev.pub("sensor/SN-2/connect", 1, ``)
		drivertest.Eventually(t, 10*time.Second, "2 connects", func() bool { return len(sink.Connects()) == 2 })
		dev.pub("sensor/disconnect", 1, `{"SerialNumber":"SN-1"}`)
		dev.pub("sensor/SN-2/disconnect", 1, `{}`)
		drivertest.Eventually(t, 10*time.Second, "2 disconnects", func() bool { return len(sink.Disconnects()) == 2 })
		if got := strings.Join(sink.Connects(), ","); got != "SN-1,SN-2" {
			t.Errorf("connects %s", got)
		}
		if got := strings.Join(sink.Disconnects(), ","); got != "SN-1,SN-2" {
			t.Errorf("disconnects %s", got)
		}
	})
}

func TestAttributeRequests(t *testing.T) {
	forVersions(t, func(t *testing.T, v int) {
		m := startMosquitto(t)
		cfg := `{"broker":` + brokerJSON(m, v, "") + `,
		"attributeRequests":[
		  {"retain":false,"topicFilter":"v1/devices/me/attributes/request","deviceInfo":{"deviceNameExpressionSource":"message","deviceNameExpression":"${serialNumber}"},
		   "attributeNameExpressionSource":"message","attributeNameExpression":"${versionAttribute}","topicExpression":"devices/${deviceName}/attrs","valueExpression":"{\"${attributeKey}\": ${attributeValue}}"},
		  {"topicFilter":"v1/devices/me/attributes/client","scope":"client","deviceNameJsonExpression":"${serialNumber}",
		   "attributeNameJsonExpression":"${a}, ${b}","topicExpression":"devices/${deviceName}/client","valueExpression":"${attributeValue}"}]}`
		sink := newRecSink()
		sink.Attrs["SN-1"] = map[string]any{"fw": "1.2", "model": "T1", "n": 3.0}
		startConn(t, cfg, sink)
		dev := newDevClient(t, m.addr())
		dev.sub("devices/#")
		dev.pub("v1/devices/me/attributes/request", 1, `{"serialNumber":"SN-1","versionAttribute":"fw"}`)
		msg := dev.next(10 * time.Second)
		if msg.Topic() != "devices/SN-1/attrs" || string(msg.Payload()) != `{"fw": "1.2"}` {
			t.Errorf("shared answer %s %s", msg.Topic(), msg.Payload())
		}
		dev.pub("v1/devices/me/attributes/client", 1, `{"serialNumber":"SN-1","a":"model","b":"n"}`)
		msg = dev.next(10 * time.Second)
		if msg.Topic() != "devices/SN-1/client" || string(msg.Payload()) != `{"model":"T1","n":3}` {
			t.Errorf("client answer %s %s", msg.Topic(), msg.Payload())
		}
		// The message's "scope" overrides the configured one.
		dev.pub("v1/devices/me/attributes/request", 1, `{"serialNumber":"SN-1","versionAttribute":"n","scope":"client"}`)
		msg = dev.next(10 * time.Second)
		if string(msg.Payload()) != `{"n": 3}` {
			t.Errorf("answer %s", msg.Payload())
		}
		want := "shared:SN-1:fw|client:SN-1:model,n|client:SN-1:n"
		if got := strings.Join(sink.scopeLog(), "|"); got != want {
			t.Errorf("requests %s, want %s", got, want)
		}
	})
}

func TestAttributeUpdates(t *testing.T) {
	forVersions(t, func(t *testing.T, v int) {
		m := startMosquitto(t)
		cfg := `{"broker":` + brokerJSON(m, v, "") + `,"mapping":[],
		"requestsMapping":{"attributeUpdates":[
		  {"retain":true,"deviceNameFilter":"SN-.*","attributeFilter":"upload","topicExpression":"sensor/${deviceName}/${attributeKey}","valueExpression":"{\"${attributeKey}\":\"${attributeValue}\"}"},
		  {"deviceNameFilter":".*","attributeFilter":"relay","topicExpression":"sensor/request/setRelay","valueExpression":"${attributeValue}","qos":1}]}}`
		c := startConn(t, cfg, newRecSink())
		ctx := context.Background()
		if err := c.OnAttributes(ctx, "SN-7", map[string]any{"uploadFrequency": 30.0, "other": 1.0}); err != nil {
			t.Fatal(err)
		}
		if err := c.OnAttributes(ctx, "X", map[string]any{"relay": true, "uploadFrequency": 5.0}); err != nil {
			t.Fatal(err)
		}
		// Subscribe afterwards: the retained update is still delivered.
		dev := newDevClient(t, m.addr())
		dev.sub("sensor/#")
		msg := dev.next(10 * time.Second)
		if msg.Topic() != "sensor/SN-7/uploadFrequency" || string(msg.Payload()) != `{"uploadFrequency":"30"}` || !msg.Retained() {
			t.Errorf("got %s %s retained=%v", msg.Topic(), msg.Payload(), msg.Retained())
		}
		if err := c.OnAttributes(ctx, "X", map[string]any{"relay": false}); err != nil {
			t.Fatal(err)
		}
		msg = dev.next(10 * time.Second)
		if msg.Topic() != "sensor/request/setRelay" || string(msg.Payload()) != `false` || msg.Retained() {
			t.Errorf("got %s %s retained=%v", msg.Topic(), msg.Payload(), msg.Retained())
		}
	})
}

const rpcSection = `"serverSideRpc":[
  {"type":"twoWay","deviceNameFilter":".*","methodFilter":"getRelay","requestTopicExpression":"sensor/${deviceName}/request/${methodName}/${requestId}",
   "responseTopicExpression":"sensor/${deviceName}/response/${methodName}/${requestId}","responseTopicQoS":1,"responseTimeout":10000,"valueExpression":"${params}"},
  {"type":"twoWay","deviceNameFilter":".*","methodFilter":"slow","requestTopicExpression":"sensor/${deviceName}/slow",
   "responseTopicExpression":"sensor/${deviceName}/slow/response","responseTimeout":300,"valueExpression":"{\"p\":${params.x}}"},
  {"type":"oneWay","deviceNameFilter":".*","methodFilter":"setRelay","requestTopicExpression":"sensor/request/${methodName}","valueExpression":"${params}"}]`

func TestRPC(t *testing.T) {
	forVersions(t, func(t *testing.T, v int) {
		m := startMosquitto(t)
		cfg := `{"broker":` + brokerJSON(m, v, "") + `,"mapping":[],"requestsMapping":{` + rpcSection + `}}`
		c := startConn(t, cfg, newRecSink())
		dev := newDevClient(t, m.addr())
		dev.sub("sensor/+/request/#")
		dev.sub("sensor/request/#")
		dev.sub("sensor/+/slow")
		ctx := context.Background()

		// Two-way: the device answers on the response topic.
		type result struct {
			v   any
			err error
		}
		res := make(chan result, 1)
		go func() {
			v, err := c.OnRPC(ctx, connector.RPC{Device: "SN-1", ID: 42, Method: "getRelay", Params: json.RawMessage(`{"a":1}`)})
			res <- result{v, err}
		}()
		msg := dev.next(10 * time.Second)
		if msg.Topic() != "sensor/SN-1/request/getRelay/42" || string(msg.Payload()) != `{"a":1}` {
			t.Fatalf("request %s %s", msg.Topic(), msg.Payload())
		}
		dev.pub("sensor/SN-1/response/getRelay/42", 1, `{'relay': true}`)
		r := <-res
		if r.err != nil {
			t.Fatal(r.err)
		}
		if b, _ := json.Marshal(r.v); string(b) != `{"relay": true}` && string(b) != `{"relay":true}` {
			t.Errorf("reply %s", b)
		}

		// One-way.
		out, err := c.OnRPC(ctx, connector.RPC{Device: "SN-1", ID: 43, Method: "setRelay", Params: json.RawMessage(`true`)})
		if err != nil {
			t.Fatal(err)
		}
		if b, _ := json.Marshal(out); string(b) != `{"success":true}` {
			t.Errorf("one-way reply %s", b)
		}
		msg = dev.next(10 * time.Second)
		if msg.Topic() != "sensor/request/setRelay" || string(msg.Payload()) != `true` {
			t.Errorf("one-way request %s %s", msg.Topic(), msg.Payload())
		}

		// Two-way timeout: nobody answers.
		_, err = c.OnRPC(ctx, connector.RPC{Device: "SN-2", ID: 44, Method: "slow", Params: json.RawMessage(`{"x":"s"}`)})
		if err == nil || !strings.Contains(err.Error(), "no response") {
			t.Errorf("timeout: err %v", err)
		}
		msg = dev.next(10 * time.Second)
		if msg.Topic() != "sensor/SN-2/slow" || string(msg.Payload()) != `{"p":"s"}` {
			t.Errorf("slow request %s %s", msg.Topic(), msg.Payload())
		}

		// No route.
		if _, err := c.OnRPC(ctx, connector.RPC{Device: "SN-1", ID: 45, Method: "nothing", Params: json.RawMessage(`null`)}); err == nil {
			t.Error("unrouted RPC: no error")
		}

		// Reserved set (one-way) and get (two-way).
		out, err = c.OnRPC(ctx, connector.RPC{Device: "SN-3", ID: 46, Method: "set",
			Params: json.RawMessage(`"requestTopicExpression=sensor/SN-3/request/set;value=${params};"`)})
		if err != nil {
			t.Fatal(err)
		}
		msg = dev.next(10 * time.Second)
		if msg.Topic() != "sensor/SN-3/request/set" {
			t.Errorf("reserved set %s %s", msg.Topic(), msg.Payload())
		}
		go func() {
			v, err := c.OnRPC(ctx, connector.RPC{Device: "SN-3", ID: 47, Method: "mqtt_get",
				Params: json.RawMessage(`"requestTopicExpression=sensor/SN-3/request/get/${requestId};responseTopicExpression=sensor/SN-3/resp/${requestId};value=1"`)})
			res <- result{v, err}
		}()
		msg = dev.next(10 * time.Second)
		if msg.Topic() != "sensor/SN-3/request/get/47" || string(msg.Payload()) != "1" {
			t.Errorf("reserved get %s %s", msg.Topic(), msg.Payload())
		}
		dev.pub("sensor/SN-3/resp/47", 1, `21.5`)
		r = <-res
		if r.err != nil {
			t.Fatal(r.err)
		}
		if b, _ := json.Marshal(r.v); string(b) != `21.5` {
			t.Errorf("reserved get reply %s", b)
		}

		// Connector RPC: params are the request description.
		out, err = c.OnRPC(ctx, connector.RPC{ID: 48, Method: "publish",
			Params: json.RawMessage(`{"requestTopicExpression":"sensor/request/conn","valueExpression":"hello"}`)})
		if err != nil {
			t.Fatal(err)
		}
		msg = dev.next(10 * time.Second)
		if msg.Topic() != "sensor/request/conn" || string(msg.Payload()) != "hello" {
			t.Errorf("connector RPC %s %s", msg.Topic(), msg.Payload())
		}
		_ = out
	})
}
