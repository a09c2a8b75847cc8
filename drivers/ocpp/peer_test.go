package ocpp

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/tbgw/tbgw/drivers/drivertest"
	"github.com/tbgw/tbgw/gw/connector"
)

// sampleWith returns upstream's sample with the central system on a
// random loopback port and edit applied to the decoded document.
func sampleWith(t testing.TB, edit func(m map[string]any)) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/ocpp.json")
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	cs := m["centralSystem"].(map[string]any)
	cs["host"], cs["port"] = "127.0.0.1", 0
	if edit != nil {
		edit(m)
	}
	out, _ := json.Marshal(m)
	return out
}

func start(t testing.TB, cfg []byte, sink *drivertest.Sink) (*Connector, connector.Env) {
	t.Helper()
	env := drivertest.Env(t, "OCPP", "ocpp")
	c, err := New(cfg, env)
	if err != nil {
		t.Fatal(err)
	}
	drivertest.Run(t, c, sink)
	oc := c.(*Connector)
	waitFor(t, "listening", func() bool { return oc.ListenAddr() != "" })
	return oc, env
}

func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

const bearer = "Bearer ACCESS_TOKEN"

func connect16(c *Connector, id string) map[string]any {
	return map[string]any{"op": "connect", "endpoint": "ws://" + c.ListenAddr() + "/bidon/hello", "identity": id,
		"protocol": "ocpp1.6", "headers": map[string]string{"Authorization": bearer}}
}

func rpc(t testing.TB, c *Connector, device, method string, params any) (any, error) {
	t.Helper()
	p, _ := json.Marshal(params)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	return c.OnRPC(ctx, connector.RPC{Device: device, ID: 7, Method: method, Params: p, Timeout: 15 * time.Second})
}

func jsonOf(v any) string { b, _ := json.Marshal(v); return string(b) }

// TestSample16 runs upstream's sample against an ocpp-rpc 1.6J charge
// point in strict mode: every answer of the central system is checked
// against the OCPP 1.6 JSON schemas by the peer.
func TestSample16(t *testing.T) {
	sink := drivertest.NewSink()
	c, _ := start(t, sampleWith(t, nil), sink)
	s := startSim(t)
	if r := s.ok(connect16(c, "CP_1")); r["protocol"] != "ocpp1.6" {
		t.Fatalf("protocol %v", r)
	}
	boot := s.ok(map[string]any{"op": "call", "action": "BootNotification",
		"params": map[string]any{"chargePointVendor": "Acme", "chargePointModel": "Volt22", "chargePointSerialNumber": "SN9"}})
	if boot["status"] != "Accepted" || boot["interval"].(float64) != 300 {
		t.Fatalf("boot answer %v", boot)
	}
	const dev = "Acme Volt22"
	waitFor(t, "connect", func() bool { return strings.Contains(strings.Join(sink.Connects(), ","), dev) })

	s.ok(map[string]any{"op": "call", "action": "Heartbeat", "params": map[string]any{}})
	s.ok(map[string]any{"op": "call", "action": "StatusNotification", "params": map[string]any{"connectorId": 1, "errorCode": "NoError", "status": "Preparing"}})
	if a := s.ok(map[string]any{"op": "call", "action": "Authorize", "params": map[string]any{"idTag": "TAG1"}}); jsonOf(a) != `{"idTagInfo":{"status":"Accepted"}}` {
		t.Errorf("authorize %v", a)
	}
	st := s.ok(map[string]any{"op": "call", "action": "StartTransaction", "params": map[string]any{"connectorId": 1, "idTag": "TAG1", "meterStart": 100, "timestamp": time.Now().UTC().Format(time.RFC3339)}})
	txID := st["transactionId"].(float64)
	s.ok(map[string]any{"op": "call", "action": "MeterValues", "params": map[string]any{"connectorId": 1, "transactionId": txID,
		"meterValue": []any{map[string]any{"timestamp": time.Now().UTC().Format(time.RFC3339), "sampledValue": []any{map[string]any{"value": "12.5", "measurand": "Energy.Active.Import.Register"}}}}}})
	// The answer came after the data was in the sink.
	if v, ok := sink.Latest(dev, "temp1", true); !ok || v != "12.5" {
		t.Errorf("temp1 = %v %v", v, ok)
	}
	if v, ok := sink.Latest(dev, "vendorId", true); !ok || jsonOf(v) != "1" {
		t.Errorf("vendorId = %v %v", v, ok)
	}
	s.ok(map[string]any{"op": "call", "action": "DataTransfer", "params": map[string]any{"vendorId": "acme", "data": `{"temp":21.5}`}})
	if v, ok := sink.Latest(dev, "temp", false); !ok || jsonOf(v) != "21.5" {
		t.Errorf("temp = %v %v", v, ok)
	}
	s.ok(map[string]any{"op": "call", "action": "StopTransaction", "params": map[string]any{"transactionId": txID, "idTag": "TAG1", "meterStop": 250, "timestamp": time.Now().UTC().Format(time.RFC3339)}})
	s.ok(map[string]any{"op": "call", "action": "FirmwareStatusNotification", "params": map[string]any{"status": "Idle"}})

	// Bad frames get CALLERRORs with 1.6 codes.
	for _, tc := range []struct{ raw, want string }{
		{`[2,"x1","Heartbeat"`, `[4,"-1","FormationViolation"`},
		{`[2,"x2","BootNotification",{"chargePointVendor":"V"}]`, `[4,"x2","OccurenceConstraintViolation"`},
		{`[2,"x3","MeterValues",{"connectorId":"one","meterValue":[]}]`, `[4,"x3","TypeConstraintViolation"`},
		{`[2,"x4","Teleport",{}]`, `[4,"x4","NotImplemented"`},
		{`[2,"x5","TransactionEvent",{}]`, `[4,"x5","NotImplemented"`},
	} {
		if r := s.do(map[string]any{"op": "raw", "data": tc.raw}); !strings.HasPrefix(r.Raw, tc.want) {
			t.Errorf("%s answered %q, want %s...", tc.raw, r.Raw, tc.want)
		}
	}

	// Downlink: the configured RPC and attribute update are DataTransfers.
	res, err := rpc(t, c, dev, "rpc1", map[string]any{"setpoint": 16})
	if err != nil {
		t.Fatal(err)
	}
	in := s.event("DataTransfer", incoming("DataTransfer"))
	if got := jsonOf(in["params"]); got != `{"data":"{\"setpoint\":16}","vendorId":"1"}` {
		t.Errorf("rpc1 sent %s", got)
	}
	if got := jsonOf(res); !strings.Contains(got, `"status":"Accepted"`) || !strings.HasPrefix(got, `{"result":`) {
		t.Errorf("rpc1 reply %s", got)
	}
	if err := c.OnAttributes(context.Background(), dev, map[string]any{"shared": 7.5, "other": 1}); err != nil {
		t.Fatal(err)
	}
	s.event("attribute DataTransfer", func(m map[string]any) bool {
		return m["incoming"] == "DataTransfer" && jsonOf(m["params"]) == `{"data":"{\"shared\":\"7.5\"}","vendorId":"1"}`
	})
	// Calls upstream cannot send.
	if res, err := rpc(t, c, dev, "RemoteStartTransaction", map[string]any{"idTag": "TB", "connectorId": 1}); err != nil || jsonOf(res) != `{"result":{"status":"Accepted"}}` {
		t.Errorf("RemoteStartTransaction: %v %v", jsonOf(res), err)
	}
	s.event("RemoteStartTransaction", func(m map[string]any) bool {
		return m["incoming"] == "RemoteStartTransaction" && jsonOf(m["params"]) == `{"connectorId":1,"idTag":"TB"}`
	})
	if _, err := rpc(t, c, dev, "ChangeConfiguration", map[string]any{"key": "HeartbeatInterval", "value": "60"}); err != nil {
		t.Error(err)
	}
	if _, err := rpc(t, c, dev, "Reset", map[string]any{"type": "Soft"}); err != nil {
		t.Error(err)
	}
	if res, err := rpc(t, c, dev, "get", "key=HeartbeatInterval;"); err != nil || !strings.Contains(jsonOf(res), `"value":"300"`) {
		t.Errorf("get: %s %v", jsonOf(res), err)
	}
	if _, err := rpc(t, c, dev, "set", "value=42;"); err != nil {
		t.Error(err)
	}
	s.event("set DataTransfer", func(m map[string]any) bool {
		return m["incoming"] == "DataTransfer" && jsonOf(m["params"]) == `{"data":"42","vendorId":"1"}`
	})
	// The peer rejects a payload that breaks the schema: the error comes back.
	if _, err := rpc(t, c, dev, "Reset", map[string]any{"type": "Sideways"}); err == nil || !strings.Contains(err.Error(), "CALLERROR") {
		t.Errorf("invalid Reset: %v", err)
	}
	if _, err := rpc(t, c, dev, "Teleport", map[string]any{}); err == nil {
		t.Error("unknown method accepted")
	}
	if _, err := rpc(t, c, "nobody", "Reset", map[string]any{"type": "Soft"}); err == nil || !strings.Contains(err.Error(), "not connected") {
		t.Errorf("unknown device: %v", err)
	}

	s.ok(map[string]any{"op": "close"})
	waitFor(t, "disconnect", func() bool { return strings.Contains(strings.Join(sink.Disconnects(), ","), dev) })
	if _, err := rpc(t, c, dev, "Reset", map[string]any{"type": "Soft"}); err == nil {
		t.Error("RPC to a disconnected charger succeeded")
	}
}

// TestRefused: authentication, subprotocol and id are checked before the
// WebSocket upgrade.
func TestRefused(t *testing.T) {
	c, _ := start(t, sampleWith(t, nil), drivertest.NewSink())
	s := startSim(t)
	for _, tc := range []struct {
		name string
		cmd  map[string]any
		want string
	}{
		{"no credentials", map[string]any{"protocol": "ocpp1.6", "identity": "CP_1"}, "401"},
		{"wrong token", map[string]any{"protocol": "ocpp1.6", "identity": "CP_1", "headers": map[string]string{"Authorization": "Bearer nope"}}, "401"},
		{"unknown subprotocol", map[string]any{"protocol": "ocpp1.5", "strict": false, "identity": "CP_1", "headers": map[string]string{"Authorization": bearer}}, "400"},
		{"unknown id", map[string]any{"protocol": "ocpp1.6", "identity": "CP_2", "headers": map[string]string{"Authorization": bearer}}, "404"},
	} {
		tc.cmd["op"], tc.cmd["endpoint"] = "connect", "ws://"+c.ListenAddr()+"/bidon/hello"
		r := s.do(tc.cmd)
		if r.Error == nil || !strings.Contains(r.Error.Message+" "+jsonOf(r.Error.Status), tc.want) {
			t.Errorf("%s: %+v", tc.name, r.Error)
		}
	}
	// Basic credentials from the sample are accepted.
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte("admin:admin"))
	s.ok(map[string]any{"op": "connect", "endpoint": "ws://" + c.ListenAddr() + "/bidon/hello", "identity": "CP_1",
		"protocol": "ocpp1.6", "headers": map[string]string{"Authorization": basic}})
	// The server counts the connection once its handshake answer went
	// out, which the charge point may see first.
	accepted := func() bool { st := c.Stats(); return st["connectionsRejected"] >= 4 && st["connectionsAccepted"] == 1 }
	drivertest.Eventually(t, 10*time.Second, "the stats of 4 refused and 1 accepted connection", accepted)
}
