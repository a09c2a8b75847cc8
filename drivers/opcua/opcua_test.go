package opcua

import (
	"context"
	"encoding/json"
	"fmt"
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
	c, err := New([]byte(fmt.Sprintf(`{"server":{"url":"127.0.0.1:%d","timeoutInMillis":500}}`, drivertest.FreePort(t))), env)
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

// Configurations written for upstream before 3.4.4 match browse path
// segments as regular expressions; a segment no browse name equals as
// written is tried that way.
func TestLegacyRegexPaths(t *testing.T) {
	ts := startServer(t)
	c, _ := newTestConnector(t, ts, `{
  "server": {"url": "URL", "timeoutInMillis": 10000, "reconnectBackoffInitialDelay": 0.2},
  "mapping": [
    {"deviceNodePattern": "Root\\.Objects\\.Pla.t\\.L[a-z]+e",
     "deviceInfo": {"deviceNameExpression": "Line ${I.}"},
     "timeseries": [{"key": "speed", "type": "path", "value": "${Spe+d}"}]},
    {"deviceNodePattern": "Root\\.Objects\\.B.*",
     "deviceInfo": {"deviceNameExpression": "Boiler ${Serial}"},
     "timeseries": [{"key": "pressure", "type": "path", "value": "${Root\\.Objects\\.Boil(er|ing)\\.Press.*}"}]},
    {"deviceNodePattern": "Root\\.Objects\\.Nope\\d+", "deviceInfo": {"deviceNameExpression": "Ghost"},
     "timeseries": [{"key": "x", "type": "path", "value": "${X}"}]}
  ]
}`)
	sink := drivertest.NewSink()
	drivertest.Run(t, c, sink)
	want := map[string][2]any{"Line L1": {"speed", 10.0}, "Line L2": {"speed", 20.0}, "Boiler B-42": {"pressure", 3.5}}
	sink.Wait(t, 30*time.Second, "devices found by regular expressions", func(data []connector.Data) bool {
		for dev, kv := range want {
			if v, ok := drivertest.Latest(data, dev, kv[0].(string), false); !ok || v != kv[1] {
				return false
			}
		}
		return true
	})
	for _, d := range sink.Data() {
		if d.Device == "Ghost" {
			t.Error("data for a pattern that matches no node")
		}
	}
}
