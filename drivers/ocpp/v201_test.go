package ocpp

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/tbgw/tbgw/drivers/drivertest"
	"github.com/tbgw/tbgw/gw/connector"
)

// config201 maps 2.0.1 messages: TransactionEvent and MeterValues
// meter values, StatusNotification status.
func config201(t testing.TB) []byte {
	return sampleWith(t, func(m map[string]any) {
		cs := m["centralSystem"].(map[string]any)
		delete(cs, "security")
		m["chargePoints"] = []any{map[string]any{
			"idRegexpPattern":      "CS",
			"deviceNameExpression": "${Vendor}-${serialNumber}",
			"deviceTypeExpression": "${Model}",
			"attributes": []any{
				map[string]any{"messageTypeFilter": "StatusNotification", "key": "status", "value": "${connectorStatus}"},
				map[string]any{"messageTypeFilter": "BootNotification", "key": "firmware", "value": "${firmware_version}"},
			},
			"timeseries": []any{
				map[string]any{"messageTypeFilter": "MeterValues,TransactionEvent", "key": "energy", "type": "double",
					"value": "${meterValue[0].sampledValue[0].value}"},
				map[string]any{"messageTypeFilter": "TransactionEvent", "key": "txState", "value": "${eventType}"},
			},
		}}
	})
}

func TestOCPP201(t *testing.T) {
	sink := drivertest.NewSink()
	c, _ := start(t, config201(t), sink)
	s := startSim(t)
	if r := s.ok(map[string]any{"op": "connect", "endpoint": "ws://" + c.ListenAddr(), "identity": "CS-01", "protocol": "ocpp2.0.1"}); r["protocol"] != "ocpp2.0.1" {
		t.Fatalf("protocol %v", r)
	}
	now := func() string { return time.Now().UTC().Format(time.RFC3339) }
	s.ok(map[string]any{"op": "call", "action": "BootNotification", "params": map[string]any{"reason": "PowerUp",
		"chargingStation": map[string]any{"vendorName": "Acme", "model": "DC50", "serialNumber": "S1", "firmwareVersion": "1.2"}}})
	const dev = "Acme-S1"
	waitFor(t, "boot data", func() bool { _, ok := sink.Latest(dev, "firmware", true); return ok })
	if d := sink.Data(); d[len(d)-1].Type != "DC50" {
		t.Errorf("device type %q", d[len(d)-1].Type)
	}
	s.ok(map[string]any{"op": "call", "action": "StatusNotification", "params": map[string]any{"timestamp": now(), "connectorStatus": "Occupied", "evseId": 1, "connectorId": 1}})
	if v, _ := sink.Latest(dev, "status", true); v != "Occupied" {
		t.Errorf("status %v", v)
	}
	if a := s.ok(map[string]any{"op": "call", "action": "Authorize", "params": map[string]any{"idToken": map[string]any{"idToken": "T1", "type": "ISO14443"}}}); jsonOf(a) != `{"idTokenInfo":{"status":"Accepted"}}` {
		t.Errorf("authorize %v", a)
	}
	tx := func(event string, seq int, wh float64) map[string]any {
		return map[string]any{"op": "call", "action": "TransactionEvent", "params": map[string]any{
			"eventType": event, "timestamp": now(), "triggerReason": "Authorized", "seqNo": seq,
			"transactionInfo": map[string]any{"transactionId": "tx-1"},
			"idToken":         map[string]any{"idToken": "T1", "type": "ISO14443"},
			"meterValue":      []any{map[string]any{"timestamp": now(), "sampledValue": []any{map[string]any{"value": wh}}}}}}
	}
	if r := s.ok(tx("Started", 0, 100)); jsonOf(r) != `{"idTokenInfo":{"status":"Accepted"}}` {
		t.Errorf("TransactionEvent answer %v", r)
	}
	if v, _ := sink.Latest(dev, "energy", false); jsonOf(v) != "100" {
		t.Errorf("energy %v", v)
	}
	s.ok(map[string]any{"op": "call", "action": "MeterValues", "params": map[string]any{"evseId": 1,
		"meterValue": []any{map[string]any{"timestamp": now(), "sampledValue": []any{map[string]any{"value": 175.5}}}}}})
	if v, _ := sink.Latest(dev, "energy", false); jsonOf(v) != "175.5" {
		t.Errorf("energy %v", v)
	}
	// Meter values sampled while offline keep their sampling time.
	s.ok(map[string]any{"op": "call", "action": "MeterValues", "params": map[string]any{"evseId": 1,
		"meterValue": []any{map[string]any{"timestamp": "2024-03-01T10:00:00Z", "sampledValue": []any{map[string]any{"value": 150}}}}}})
	if d := sink.Data(); len(d[len(d)-1].Telemetry) != 1 || d[len(d)-1].Telemetry[0].TS != 1709287200000 {
		t.Errorf("meter value time: %+v", d[len(d)-1])
	}
	s.ok(tx("Ended", 1, 250))
	if v, _ := sink.Latest(dev, "txState", false); v != "Ended" {
		t.Errorf("txState %v", v)
	}
	s.ok(map[string]any{"op": "call", "action": "DataTransfer", "params": map[string]any{"vendorId": "acme", "data": map[string]any{"x": 1}}})
	s.ok(map[string]any{"op": "call", "action": "Heartbeat", "params": map[string]any{}})
	s.ok(map[string]any{"op": "call", "action": "SecurityEventNotification", "params": map[string]any{"type": "StartupOfTheDevice", "timestamp": now()}})

	for _, tc := range []struct{ raw, want string }{
		{`not json`, `[4,"-1","RpcFrameworkError"`},
		{`[2,"y1","BootNotification",{"reason":"PowerUp"}]`, `[4,"y1","OccurrenceConstraintViolation"`},
		{`[2,"y2","StatusNotification",{"timestamp":"now","connectorStatus":"Occupied","evseId":1,"connectorId":1}]`, `[4,"y2","PropertyConstraintViolation"`},
		{`[2,"y3","StartTransaction",{"connectorId":1,"idTag":"x","meterStart":0,"timestamp":"2024-01-01T00:00:00Z"}]`, `[4,"y3","NotImplemented"`},
		{`[2,"y4","Heartbeat",[]]`, `[4,"y4","FormatViolation"`},
	} {
		if r := s.do(map[string]any{"op": "raw", "data": tc.raw}); !strings.HasPrefix(r.Raw, tc.want) {
			t.Errorf("%s answered %q, want %s...", tc.raw, r.Raw, tc.want)
		}
	}

	// A ThingsBoard RPC starts a transaction remotely.
	res, err := rpc(t, c, dev, "RequestStartTransaction", map[string]any{"idToken": map[string]any{"idToken": "TB", "type": "Central"}, "remoteStartId": 5})
	if err != nil || jsonOf(res) != `{"result":{"status":"Accepted"}}` {
		t.Errorf("RequestStartTransaction %s %v", jsonOf(res), err)
	}
	s.event("RequestStartTransaction", incoming("RequestStartTransaction"))
	res, err = rpc(t, c, dev, "SetVariables", map[string]any{"setVariableData": []any{map[string]any{"attributeValue": "60",
		"component": map[string]any{"name": "OCPPCommCtrlr"}, "variable": map[string]any{"name": "HeartbeatInterval"}}}})
	if err != nil || !strings.Contains(jsonOf(res), `"attributeStatus":"Accepted"`) {
		t.Errorf("SetVariables %s %v", jsonOf(res), err)
	}
	res, err = rpc(t, c, dev, "get", "component=OCPPCommCtrlr;variable=HeartbeatInterval;")
	if err != nil || !strings.Contains(jsonOf(res), `"attributeValue":"300"`) {
		t.Errorf("get %s %v", jsonOf(res), err)
	}
	if _, err := rpc(t, c, dev, "RemoteStartTransaction", map[string]any{"idTag": "x"}); err == nil {
		t.Error("a 1.6 call was sent to a 2.0.1 station")
	}
	if _, err := rpc(t, c, dev, "TriggerMessage", map[string]any{"requestedMessage": "Heartbeat"}); err != nil {
		t.Error(err)
	}
}

// TestReconnectAndStorageFull: a charger that reconnects without booting
// keeps its name (also through a new connector instance, from the data
// directory); while the storage refuses data, MeterValues are answered
// with InternalError so the charger keeps them.
func TestReconnectAndStorageFull(t *testing.T) {
	sink := drivertest.NewSink()
	cfg := config201(t)
	env := drivertest.Env(t, "OCPP", "ocpp")
	run := func() (*Connector, context.CancelFunc, chan error) {
		cc, err := New(cfg, env)
		if err != nil {
			t.Fatal(err)
		}
		c := cc.(*Connector)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- c.Run(ctx, sink) }()
		waitFor(t, "listening", func() bool { return c.ListenAddr() != "" })
		return c, cancel, done
	}
	c, cancel, done := run()
	s := startSim(t)
	conn := map[string]any{"op": "connect", "endpoint": "ws://" + c.ListenAddr(), "identity": "CS-02", "protocol": "ocpp2.0.1"}
	s.ok(conn)
	s.ok(map[string]any{"op": "call", "action": "BootNotification", "params": map[string]any{"reason": "PowerUp",
		"chargingStation": map[string]any{"vendorName": "Acme", "model": "AC11", "serialNumber": "S2"}}})
	s.ok(map[string]any{"op": "close"})
	waitFor(t, "disconnect", func() bool { return len(sink.Disconnects()) == 1 })
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	c, cancel, done = run()
	defer func() { cancel(); <-done }()
	conn["endpoint"] = "ws://" + c.ListenAddr()
	s.ok(conn)
	mv := map[string]any{"op": "call", "action": "MeterValues", "params": map[string]any{"evseId": 1,
		"meterValue": []any{map[string]any{"timestamp": time.Now().UTC().Format(time.RFC3339), "sampledValue": []any{map[string]any{"value": 9}}}}}}
	s.ok(mv)
	if v, ok := sink.Latest("Acme-S2", "energy", false); !ok || jsonOf(v) != "9" {
		t.Errorf("after reconnect: energy %v %v (data %+v)", v, ok, sink.Data())
	}
	sink.SendErr = connector.ErrStorageFull
	r := s.do(mv)
	if r.Error == nil || r.Error.Code != "InternalError" {
		t.Errorf("storage full answered %+v", r)
	}
	sink.SendErr = nil
	s.ok(mv)
	if c.Stats()["dataRefusedStorage"] != 1 {
		t.Errorf("stats %v", c.Stats())
	}
}
