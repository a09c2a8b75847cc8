package opcua

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gopcua/opcua/ua"
	"github.com/tbgw/tbgw/drivers/drivertest"
	"github.com/tbgw/tbgw/gw/connector"
)

// newTestConnector builds a connector from a config whose "URL" is replaced
// by the server's address.
func newTestConnector(t *testing.T, ts *testServer, cfg string) (*Connector, connector.Env) {
	t.Helper()
	env := drivertest.Env(t, "OPCUA", "opcua")
	c, err := New([]byte(strings.ReplaceAll(cfg, "URL", ts.url())), env)
	if err != nil {
		t.Fatal(err)
	}
	return c.(*Connector), env
}

const allTypesConfig = `{
  "server": {"url": "URL", "timeoutInMillis": 10000, "subCheckPeriodInMillis": 100,
    "reconnectBackoffInitialDelay": 0.2, "reconnectBackoffFactor": 2, "identity": {"type": "anonymous"}},
  "mapping": [{
    "deviceNodeSource": "path",
    "deviceNodePattern": "Root\\.Objects\\.MyObject",
    "deviceInfo": {"deviceNameExpression": "${Name}", "deviceNameExpressionSource": "path",
      "deviceProfileExpression": "${Root\\.Objects\\.MyObject\\.Profile}", "deviceProfileExpressionSource": "path"},
    "attributes": [
      {"key": "frequency", "type": "path", "value": "${Frequency}"},
      {"key": "model", "type": "constant", "value": "M-1"},
      {"key": "boilerPressure", "type": "identifier", "value": "${ns=1;s=Boiler.Pressure}"}
    ],
    "timeseries": [
      {"key": "temperature", "type": "path", "value": "${Temperature}", "timestampLocation": "sourceTimestamp"},
      {"key": "deep", "type": "path", "value": "${Nested\\.Deep\\.Value}"},
      {"key": "abs", "type": "path", "value": "${Root\\.Objects\\.MyObject\\.Power}", "reportStrategy": {"type": "ON_CHANGE"}},
      {"key": "nsPath", "type": "path", "value": "${1:Types\\.1:Double}"},
      {"key": "numeric", "type": "identifier", "value": "${ns=1;i=2001}"},
      {"key": "stringId", "type": "identifier", "value": "ns=1;s=Ids.String"},
      {"key": "guidId", "type": "identifier", "value": "${ns=1;g=1E14849E-3744-470D-8C7B-5F9110C2FA32}"},
      {"key": "opaqueId", "type": "identifier", "value": "${ns=1;b=AQIDBA==}"},
      {"key": "Boolean", "type": "path", "value": "${Types\\.Boolean}"},
      {"key": "SByte", "type": "path", "value": "${Types\\.SByte}"},
      {"key": "Byte", "type": "path", "value": "${Types\\.Byte}"},
      {"key": "Int16", "type": "path", "value": "${Types\\.Int16}"},
      {"key": "UInt16", "type": "path", "value": "${Types\\.UInt16}"},
      {"key": "Int32", "type": "path", "value": "${Types\\.Int32}"},
      {"key": "UInt32", "type": "path", "value": "${Types\\.UInt32}"},
      {"key": "Int64", "type": "path", "value": "${Types\\.Int64}"},
      {"key": "UInt64", "type": "path", "value": "${Types\\.UInt64}"},
      {"key": "Float", "type": "path", "value": "${Types\\.Float}"},
      {"key": "Double", "type": "path", "value": "${Types\\.Double}"},
      {"key": "String", "type": "path", "value": "${Types\\.String}"},
      {"key": "DateTime", "type": "path", "value": "${Types\\.DateTime}"},
      {"key": "Guid", "type": "path", "value": "${Types\\.Guid}"},
      {"key": "ByteString", "type": "path", "value": "${Types\\.ByteString}"},
      {"key": "XmlElement", "type": "path", "value": "${Types\\.XmlElement}"},
      {"key": "NodeId", "type": "path", "value": "${Types\\.NodeId}"},
      {"key": "ExpandedNodeId", "type": "path", "value": "${Types\\.ExpandedNodeId}"},
      {"key": "StatusCode", "type": "path", "value": "${Types\\.StatusCode}"},
      {"key": "QualifiedName", "type": "path", "value": "${Types\\.QualifiedName}"},
      {"key": "LocalizedText", "type": "path", "value": "${Types\\.LocalizedText}"},
      {"key": "DoubleArray", "type": "path", "value": "${Types\\.DoubleArray}"},
      {"key": "Int32Array", "type": "path", "value": "${Types\\.Int32Array}"},
      {"key": "StringArray", "type": "path", "value": "${Types\\.StringArray}"},
      {"key": "BooleanArray", "type": "path", "value": "${Types\\.BooleanArray}"},
      {"key": "missing", "type": "path", "value": "${NoSuchNode}"}
    ],
    "reportStrategy": {"type": "ON_RECEIVED"}
  }]
}`

var wantTypes = map[string]any{
	"Boolean":        true,
	"SByte":          int64(-8),
	"Byte":           int64(200),
	"Int16":          int64(-1600),
	"UInt16":         int64(1600),
	"Int32":          int64(-320000),
	"UInt32":         int64(320000),
	"Int64":          int64(-2),
	"UInt64":         int64(64000),
	"Float":          1.5,
	"Double":         2.25,
	"nsPath":         2.25,
	"String":         "text",
	"DateTime":       "2024-01-02T03:04:05.678000+00:00",
	"Guid":           "72962b91-fa75-4ae6-8d28-b404dc7daf63",
	"ByteString":     "deadbeef",
	"XmlElement":     "<a>b</a>",
	"NodeId":         "ns=1;s=Target",
	"ExpandedNodeId": "ns=1;i=42",
	"StatusCode":     "BadTimeout",
	"QualifiedName":  "1:Qname",
	"LocalizedText":  "Hello",
	"DoubleArray":    json.RawMessage(`[1.5,2.5]`),
	"Int32Array":     json.RawMessage(`[1,-2,3]`),
	"StringArray":    json.RawMessage(`["a","b"]`),
	"BooleanArray":   json.RawMessage(`[true,false]`),
	"deep":           int64(7),
	"abs":            1234.5,
	"numeric":        int64(11),
	"stringId":       int64(12),
	"guidId":         int64(13),
	"opaqueId":       int64(14),
}

func sameValue(a, b any) bool {
	ra, aok := a.(json.RawMessage)
	rb, bok := b.(json.RawMessage)
	if aok || bok {
		return aok && bok && string(ra) == string(rb)
	}
	return a == b
}

func checkTypes(t *testing.T, sink *drivertest.Sink, device string) {
	t.Helper()
	sink.Wait(t, 30*time.Second, "every type", func(data []connector.Data) bool {
		for k := range wantTypes {
			if _, ok := drivertest.Latest(data, device, k, false); !ok {
				return false
			}
		}
		return true
	})
	for k, want := range wantTypes {
		got, _ := sink.Latest(device, k, false)
		if !sameValue(got, want) {
			t.Errorf("%s = %#v (%T), want %#v (%T)", k, got, got, want, want)
		}
	}
	if _, ok := sink.Latest(device, "missing", false); ok {
		t.Error("value for a missing node")
	}
}

func TestSubscriptionAllTypes(t *testing.T) {
	ts := startServer(t)
	c, _ := newTestConnector(t, ts, allTypesConfig)
	sink := drivertest.NewSink()
	drivertest.Run(t, c, sink)
	const dev = "Demo Device"
	checkTypes(t, sink, dev)

	// Attributes, constants, device profile, strategies, timestamps.
	sink.Wait(t, 30*time.Second, "attributes", func(data []connector.Data) bool {
		_, a := drivertest.Latest(data, dev, "frequency", true)
		_, b := drivertest.Latest(data, dev, "model", true)
		_, d := drivertest.Latest(data, dev, "boilerPressure", true)
		return a && b && d
	})
	if v, _ := sink.Latest(dev, "model", true); v != "M-1" {
		t.Errorf("model = %v", v)
	}
	if v, _ := sink.Latest(dev, "boilerPressure", true); v != 3.5 {
		t.Errorf("boilerPressure = %v", v)
	}
	var temps []connector.Point
	sink.Wait(t, 30*time.Second, "temperature changes", func(data []connector.Data) bool {
		temps = temps[:0]
		for _, d := range data {
			if d.Device != dev {
				continue
			}
			if d.Type != "thermostat" {
				t.Fatalf("device type %q", d.Type)
			}
			for _, p := range d.Telemetry {
				if p.Key == "temperature" {
					temps = append(temps, p)
				}
			}
		}
		return len(temps) >= 3
	})
	now := time.Now().UnixMilli()
	for _, p := range temps {
		if p.TS < now-60000 || p.TS > now+1000 {
			t.Errorf("temperature source timestamp %d, now %d", p.TS, now)
		}
		if p.Report == nil || p.Report.Type != "ON_RECEIVED" {
			t.Errorf("temperature report strategy %+v, want the device's ON_RECEIVED", p.Report)
		}
	}
	for _, d := range sink.Data() {
		for _, p := range d.Telemetry {
			if p.Key == "abs" && (p.Report == nil || p.Report.Type != "ON_CHANGE") {
				t.Errorf("abs report strategy %+v, want the key's ON_CHANGE", p.Report)
			}
			if p.Key == "deep" && p.TS != 0 {
				t.Errorf("gateway-stamped key has TS %d", p.TS)
			}
		}
	}
	if keys := c.SharedAttributeKeys(dev); len(keys) != 0 {
		t.Errorf("shared keys %v", keys)
	}
}

func TestPollingAllTypes(t *testing.T) {
	ts := startServer(t)
	cfg := strings.Replace(allTypesConfig, `"subCheckPeriodInMillis": 100,`, `"enableSubscriptions": false, "pollPeriodInMillis": 200,`, 1)
	c, _ := newTestConnector(t, ts, cfg)
	sink := drivertest.NewSink()
	drivertest.Run(t, c, sink)
	checkTypes(t, sink, "Demo Device")
	// Every poll sends every value.
	sink.Wait(t, 30*time.Second, "three polls", func(data []connector.Data) bool {
		n := 0
		for _, d := range data {
			for _, p := range d.Telemetry {
				if p.Key == "Int32" {
					n++
				}
			}
		}
		return n >= 3
	})
}

const devicesConfig = `{
  "server": {"url": "URL", "timeoutInMillis": 10000, "reconnectBackoffInitialDelay": 0.2},
  "mapping": [
    {"deviceNodeSource": "identifier", "deviceNodePattern": "ns=1;s=Boiler",
     "deviceInfo": {"deviceNameExpression": "Boiler ${Serial}", "deviceProfileExpression": "boiler"},
     "timeseries": [{"key": "pressure", "type": "path", "value": "${Pressure}"}]},
    {"deviceNodeSource": "path", "deviceNodePattern": "Root\\.Objects\\.Plant\\.Line",
     "deviceInfo": {"deviceNameExpression": "Line ${Id}", "deviceProfileExpression": "line"},
     "timeseries": [{"key": "speed", "type": "path", "value": "${Speed}"}]},
    {"deviceNodeSource": "path", "deviceNodePattern": "Root\\.Objects\\.Nowhere",
     "deviceInfo": {"deviceNameExpression": "Ghost"},
     "timeseries": [{"key": "x", "type": "path", "value": "${X}"}]}
  ]
}`

func TestDevicesByNodeIDAndPattern(t *testing.T) {
	ts := startServer(t)
	c, _ := newTestConnector(t, ts, devicesConfig)
	sink := drivertest.NewSink()
	drivertest.Run(t, c, sink)
	want := map[string]any{"Boiler B-42": 3.5, "Line L1": 10.0, "Line L2": 20.0}
	sink.Wait(t, 30*time.Second, "three devices", func(data []connector.Data) bool {
		for dev := range want {
			key := "speed"
			if strings.HasPrefix(dev, "Boiler") {
				key = "pressure"
			}
			if _, ok := drivertest.Latest(data, dev, key, false); !ok {
				return false
			}
		}
		return true
	})
	for dev, v := range want {
		key := "speed"
		if strings.HasPrefix(dev, "Boiler") {
			key = "pressure"
		}
		if got, _ := sink.Latest(dev, key, false); got != v {
			t.Errorf("%s %s = %v, want %v", dev, key, got, v)
		}
	}
	for _, d := range sink.Data() {
		if d.Device == "Ghost" {
			t.Error("data for a device whose node does not exist")
		}
	}
}

// rpc calls OnRPC and returns the reply as JSON.
func rpc(t *testing.T, c *Connector, device, method string, params any) string {
	t.Helper()
	raw, _ := json.Marshal(params)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := c.OnRPC(ctx, connector.RPC{Device: device, ID: 1, Method: method, Params: raw, Timeout: 60 * time.Second})
	if err != nil {
		return "error: " + err.Error()
	}
	b, err := json.Marshal(out)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func waitDevice(t *testing.T, c *Connector, name string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		s, d := c.current(name)
		if s != nil && d != nil {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("device %s not found", name)
}

func TestUpstreamSampleWritesAndRPC(t *testing.T) {
	ts := startServer(t)
	raw, err := readTestdata("opcua.json")
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	srv := m["server"].(map[string]any)
	srv["url"] = "URL"
	srv["pollPeriodInMillis"] = 300
	mp := m["mapping"].([]any)[0].(map[string]any)
	mp["attributes_updates"] = append(mp["attributes_updates"].([]any),
		map[string]any{"key": "setpoint", "type": "path", "value": "${Setpoint}"},
		map[string]any{"key": "counter", "type": "identifier", "value": "ns=1;i=1001"},
		map[string]any{"key": "text", "type": "path", "value": "Text"})
	cfg, _ := json.Marshal(m)
	c, _ := newTestConnector(t, ts, string(cfg))
	sink := drivertest.NewSink()
	drivertest.Run(t, c, sink)
	const dev = "Demo Device"
	waitDevice(t, c, dev)
	sink.Wait(t, 20*time.Second, "polled relay", func(data []connector.Data) bool {
		_, ok := drivertest.Latest(data, dev, "relay", false)
		return ok
	})
	if got := strings.Join(c.SharedAttributeKeys(dev), ","); got != "relay,setpoint,counter,text" {
		t.Errorf("shared keys %s", got)
	}

	// Attribute updates: absolute path, relative path, node id, string.
	ctx := context.Background()
	if err := c.OnAttributes(ctx, dev, map[string]any{"relay": true, "setpoint": 21.5, "counter": int64(5), "text": "abc", "unmapped": 1}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ params, want string }{
		{"Relay", `{"result":{"value":true}}`},
		{"Root\\.Objects\\.MyObject\\.Setpoint", `{"result":{"value":21.5}}`},
		{"Root.Objects.MyObject.Setpoint", `{"result":{"value":21.5}}`},
		{"ns=1;i=1001", `{"result":{"value":5}}`},
		{"ns=1;s=MyObject.Text;", `{"result":{"value":"abc"}}`},
		{"humidity", `{"result":{"value":45.5}}`},
		{"Nested\\.Deep\\.Value", `{"result":{"value":7}}`},
		{"NoSuchNode", `{"result":{"error":"node not found: NoSuchNode (no \"NoSuchNode\")"}}`},
	} {
		if got := rpc(t, c, dev, "get", tc.params); got != tc.want {
			t.Errorf("get %s = %s, want %s", tc.params, got, tc.want)
		}
	}
	if err := c.OnAttributes(ctx, dev, map[string]any{"counter": "x"}); err == nil {
		t.Error("writing text to an Int32 node: no error")
	}

	// Reserved set with every separator.
	for _, tc := range []struct{ params, check, want string }{
		{"Root\\.Objects\\.MyObject\\.Humidity; 90.25", "Humidity", "90.25"},
		{"Humidity;=50.5", "Humidity", "50.5"},
		{"Humidity=51", "Humidity", "51"},
		{"Humidity 52.5;", "Humidity", "52.5"},
		{"ns=1;s=MyObject.Humidity; 53.25", "Humidity", "53.25"},
		{"ns=1;i=1001 7", "ns=1;i=1001", "7"},
		{"Relay=false", "Relay", "false"},
		{"Text; hello world", "Text", `"hello world"`},
	} {
		got := rpc(t, c, dev, "set", tc.params)
		if want := `{"result":{"value":` + tc.want + `}}`; got != want {
			t.Errorf("set %s = %s, want %s", tc.params, got, want)
		}
		if got := rpc(t, c, dev, "get", tc.check); got != `{"result":{"value":`+tc.want+`}}` {
			t.Errorf("after set %s: get %s = %s", tc.params, tc.check, got)
		}
	}
	if got := rpc(t, c, dev, "opcua_get", "Relay"); got != `{"result":{"value":false}}` {
		t.Errorf("opcua_get = %s", got)
	}
	if got := rpc(t, c, dev, "set", "Humidity"); !strings.Contains(got, `"error"`) {
		t.Errorf("set without value = %s", got)
	}

	// Methods: configured arguments, request arguments, no arguments.
	for _, tc := range []struct {
		method string
		params any
		want   string
	}{
		{"multiply", nil, `{"result":{"result":8}}`},
		{"multiply", []any{7, 8}, `{"result":{"result":56}}`},
		{"multiply", []any{7}, `{"result":{"error":"Expected 2 arguments, but got 1"}}`},
		{"multiply", 7, `{"result":{"error":"The arguments must be specified in the square quotes []"}}`},
		{"set_relay", []any{true}, `{"result":{"result":null}}`},
		{"get_relay", nil, `{"result":{"result":true}}`},
		{"nosuch", nil, `{"result":{"error":"Requested rpc method is not found in config"}}`},
	} {
		if got := rpc(t, c, dev, tc.method, tc.params); got != tc.want {
			t.Errorf("%s(%v) = %s, want %s", tc.method, tc.params, got, tc.want)
		}
	}
	if got := rpc(t, c, "Other", "get", "Relay"); got != `{"result":{"error":"Device not found"}}` {
		t.Errorf("unknown device = %s", got)
	}
	// Connector RPC: opcua_multiply arrives as method "multiply" without device.
	got := rpc(t, c, "", "multiply", map[string]any{"arguments": []any{map[string]any{"value": 3}, map[string]any{"value": 5}}})
	if got != `[{"device_name":"Demo Device","result":15}]` {
		t.Errorf("connector rpc = %s", got)
	}
}

func TestServerRestartAndSessionLoss(t *testing.T) {
	ts := startServer(t)
	c, _ := newTestConnector(t, ts, allTypesConfig)
	sink := drivertest.NewSink()
	drivertest.Run(t, c, sink)
	const dev = "Demo Device"
	waitFlow := func(what string) {
		t.Helper()
		n := len(sink.Data())
		sink.Wait(t, 60*time.Second, what, func(data []connector.Data) bool {
			k := 0
			for _, d := range data[n:] {
				for _, p := range d.Telemetry {
					if p.Key == "temperature" {
						k++
					}
				}
			}
			return k >= 3
		})
	}
	waitFlow("data before restart")

	ts.restart()
	waitFlow("data after the server restart")
	// The restarted server starts its clock over: the connector reads the
	// new server, not stale values.
	if v, _ := sink.Latest(dev, "temperature", false); v.(float64) > 30 {
		t.Errorf("temperature %v after restart", v)
	}

	ts.command("drop-sessions")
	waitFlow("data after the session was dropped")

	// The server goes away for a while, then comes back.
	ts.kill()
	deadline := time.Now().Add(30 * time.Second)
	for s, _ := c.current(dev); s != nil; s, _ = c.current(dev) {
		if time.Now().After(deadline) {
			t.Fatal("the connector did not notice the server going away")
		}
		time.Sleep(20 * time.Millisecond)
	}
	ts.start()
	waitFlow("data after an outage")
}

func TestBadStatusNode(t *testing.T) {
	ts := startServer(t)
	cfg := `{
  "server": {"url": "URL", "timeoutInMillis": 10000, "reconnectBackoffInitialDelay": 0.2},
  "mapping": [{"deviceNodePattern": "Root\\.Objects\\.MyObject",
    "deviceInfo": {"deviceNameExpression": "Demo"},
    "attributes_updates": [{"key": "bad", "type": "path", "value": "${FlakyBad}"}],
    "timeseries": [{"key": "flaky", "type": "path", "value": "${Flaky}"},
                   {"key": "temperature", "type": "path", "value": "${Temperature}"}]}]
}`
	c, _ := newTestConnector(t, ts, cfg)
	sink := drivertest.NewSink()
	drivertest.Run(t, c, sink)
	sink.Wait(t, 30*time.Second, "flaky values", func(data []connector.Data) bool {
		v, ok := drivertest.Latest(data, "Demo", "flaky", false)
		_, isInt := v.(int64)
		return ok && isInt
	})
	if err := c.OnAttributes(context.Background(), "Demo", map[string]any{"bad": true}); err != nil {
		t.Fatal(err)
	}
	sink.Wait(t, 30*time.Second, "bad status value", func(data []connector.Data) bool {
		v, _ := drivertest.Latest(data, "Demo", "flaky", false)
		s, _ := v.(string)
		return strings.HasPrefix(s, "Bad status code: BadCommunicationError for node: ns=1;s=MyObject.Flaky with description")
	})
	n := len(sink.Data())
	sink.Wait(t, 30*time.Second, "other keys keep flowing", func(data []connector.Data) bool {
		_, ok := drivertest.Latest(data[n:], "Demo", "temperature", false)
		return ok
	})
	if err := c.OnAttributes(context.Background(), "Demo", map[string]any{"bad": false}); err != nil {
		t.Fatal(err)
	}
	sink.Wait(t, 30*time.Second, "good values again", func(data []connector.Data) bool {
		v, _ := drivertest.Latest(data, "Demo", "flaky", false)
		_, isInt := v.(int64)
		return isInt
	})
}

func TestUsernameIdentity(t *testing.T) {
	ts := startServer(t)
	for _, tc := range []struct {
		pass string
		ok   bool
	}{{"secret", true}, {"wrong", false}} {
		t.Run(tc.pass, func(t *testing.T) {
			cfg := fmt.Sprintf(`{"server": {"url": "URL", "timeoutInMillis": 10000, "reconnectBackoffInitialDelay": 0.2,
  "identity": {"type": "username", "username": "user", "password": %q}},
  "mapping": [{"deviceNodePattern": "Root\\.Objects\\.MyObject", "deviceInfo": {"deviceNameExpression": "Demo"},
    "timeseries": [{"key": "t", "type": "path", "value": "${Temperature}"}]}]}`, tc.pass)
			c, env := newTestConnector(t, ts, cfg)
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			s, err := c.dial(ctx)
			if tc.ok != (err == nil) {
				t.Fatalf("dial: %v", err)
			}
			if s != nil {
				s.close()
			}
			_ = env
		})
	}
}

func TestCancelWhileDisconnected(t *testing.T) {
	env := drivertest.Env(t, "OPCUA", "opcua")
	c, err := New([]byte(fmt.Sprintf(`{"server":{"url":"127.0.0.1:%d","timeoutInMillis":500}}`, freePort(t))), env)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx, drivertest.NewSink()) }()
	time.Sleep(300 * time.Millisecond)
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	if got := rpc(t, c.(*Connector), "", "multiply", nil); !strings.Contains(got, "not connected") {
		t.Errorf("connector rpc while disconnected = %s", got)
	}
}

func mustNode(t *testing.T, s string) *ua.NodeID {
	t.Helper()
	id, err := parseNodeID(s)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// TestSubscriptionDroppedByServer: the server deletes the subscription but
// keeps the session (as when a subscription outlives its lifetime); the
// silence watchdog re-creates it.
func TestSubscriptionDroppedByServer(t *testing.T) {
	ts := startServer(t)
	cfg := strings.Replace(allTypesConfig, `"subCheckPeriodInMillis": 100,`, `"subCheckPeriodInMillis": 100, "subKeepAlivePeriodInSeconds": 2,`, 1)
	c, _ := newTestConnector(t, ts, cfg)
	sink := drivertest.NewSink()
	drivertest.Run(t, c, sink)
	waitTemperatures(t, sink, "data before the subscription is dropped")
	ts.command("drop-subscriptions")
	waitTemperatures(t, sink, "data after the subscription was dropped")
}

// TestLateNode: a node that appears after the first scan is picked up by a
// later scan.
func TestLateNode(t *testing.T) {
	ts := startServer(t)
	cfg := `{
  "server": {"url": "URL", "timeoutInMillis": 10000, "scanPeriodInMillis": 500},
  "mapping": [{"deviceNodePattern": "Root\\.Objects\\.MyObject", "deviceInfo": {"deviceNameExpression": "Demo"},
    "timeseries": [{"key": "late", "type": "path", "value": "${Late}"},
                   {"key": "temperature", "type": "path", "value": "${Temperature}"}]}]
}`
	c, _ := newTestConnector(t, ts, cfg)
	sink := drivertest.NewSink()
	drivertest.Run(t, c, sink)
	sink.Wait(t, 30*time.Second, "temperature", func(data []connector.Data) bool {
		_, ok := drivertest.Latest(data, "Demo", "temperature", false)
		return ok
	})
	if _, ok := sink.Latest("Demo", "late", false); ok {
		t.Fatal("value of a node that does not exist yet")
	}
	ts.command("add-late")
	sink.Wait(t, 30*time.Second, "the late node", func(data []connector.Data) bool {
		v, _ := drivertest.Latest(data, "Demo", "late", false)
		return v == int64(99)
	})
}

// waitTemperatures waits for three new temperature values.
func waitTemperatures(t *testing.T, sink *drivertest.Sink, what string) {
	t.Helper()
	n := len(sink.Data())
	sink.Wait(t, 60*time.Second, what, func(data []connector.Data) bool {
		k := 0
		for _, d := range data[n:] {
			for _, p := range d.Telemetry {
				if p.Key == "temperature" {
					k++
				}
			}
		}
		return k >= 3
	})
}

// TestNoGoroutineLeak: after Run returns, the goroutines it started (and
// the client library's) are gone.
func TestNoGoroutineLeak(t *testing.T) {
	ts := startServer(t)
	before := runtime.NumGoroutine()
	c, _ := newTestConnector(t, ts, allTypesConfig)
	sink := drivertest.NewSink()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx, sink) }()
	waitTemperatures(t, sink, "data")
	ts.command("drop-sessions")
	waitTemperatures(t, sink, "data after a reconnect")
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines before, %d after:\n%s", before, runtime.NumGoroutine(), buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(50 * time.Millisecond)
	}
}
