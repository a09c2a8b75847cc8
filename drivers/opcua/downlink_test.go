package opcua

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/tbgw/tbgw/drivers/drivertest"
	"github.com/tbgw/tbgw/gw/connector"
)

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
		{"multiply", []any{7}, `{"result":"Expected 2 arguments, but got 1"}`},
		{"multiply", 7, `{"result":"The arguments must be specified in the square quotes []"}`},
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
