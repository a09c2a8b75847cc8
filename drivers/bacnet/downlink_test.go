package bacnet

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tbgw/tbgw/drivers/drivertest"
	"github.com/tbgw/tbgw/gw/connector"
)

// downlinkConfig is upstream's sample device (writes and RPCs) pointed at
// a peer on loopback.
func downlinkConfig(port int) string {
	return fmt.Sprintf(`{%s, "devices": [{
		"deviceInfo": {"deviceNameExpression": "BACnet Device ${objectName}", "deviceProfileExpression": "default",
			"deviceNameExpressionSource": "expression", "deviceProfileExpressionSource": "constant"},
		"altResponsesAddresses": [], "host": "127.0.0.1", "port": "%d", "mask": "24", "pollPeriod": 200,
		"attributes": [{"key": "temperature", "objectType": "analogInput", "objectId": 0, "propertyId": "presentValue"}],
		"timeseries": [{"key": "state", "objectType": "binaryValue", "objectId": 1, "propertyId": "presentValue"},
			{"key": "ao", "objectType": "analogOutput", "objectId": 1, "propertyId": "presentValue"},
			{"key": "aoPriorities", "objectType": "analogOutput", "objectId": 1, "propertyId": "priorityArray"}],
		"attributeUpdates": [{"key": "brightness", "objectType": "analogOutput", "objectId": 1, "propertyId": "presentValue", "priority": 8},
			{"key": "state", "objectType": "binaryValue", "objectId": 1, "propertyId": "presentValue"},
			{"key": "label", "objectType": "analogValue", "objectId": 0, "propertyId": "objectName"}],
		"serverSideRpc": [
			{"method": "set_state", "requestType": "writeProperty", "requestTimeout": 10000, "objectType": "binaryOutput", "objectId": 1, "propertyId": "presentValue"},
			{"method": "get_state", "requestType": "readProperty", "requestTimeout": 10000, "objectType": "analogOutput", "objectId": 1, "propertyId": "presentValue"}]}]}`,
		appConfig, port)
}

func rpc(t testing.TB, c *Connector, device, method string, params any) (any, error) {
	t.Helper()
	raw, _ := json.Marshal(params)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return c.OnRPC(ctx, connector.RPC{Device: device, ID: 1, Method: method, Params: raw, Timeout: 5 * time.Second})
}

func resultValue(t testing.TB, res any) any {
	t.Helper()
	m, ok := res.(map[string]any)
	if !ok {
		t.Fatalf("result %#v", res)
	}
	r, ok := m["result"].(map[string]any)
	if !ok {
		t.Fatalf("result %#v", res)
	}
	return r["value"]
}

// TestWritesAndRPC: attribute updates write with their priority (seen in
// the device's priority array), configured and reserved RPCs read and
// write, and bad requests get clear errors.
func TestWritesAndRPC(t *testing.T) {
	t.Parallel()
	port := freeUDPPort(t)
	peer := startPeer(t, peerConfig{Devices: []peerDevice{{Port: port, Instance: 1002, Name: "Lights", AnalogValues: 1}}})
	c := newConnector(t, downlinkConfig(port))
	sink := drivertest.NewSink()
	dev := "BACnet Device Lights"
	if err := c.OnAttributes(context.Background(), dev, map[string]any{"brightness": 1.0}); err == nil {
		t.Error("write while stopped succeeded")
	}
	drivertest.Run(t, c, sink)
	sink.Wait(t, 10*time.Second, "first poll", has(dev, "state", false))
	if keys := c.SharedAttributeKeys(dev); strings.Join(keys, ",") != "brightness,state,label" {
		t.Errorf("shared keys %v", keys)
	}

	// Attribute update at priority 8, then relinquish with null.
	if err := c.OnAttributes(context.Background(), dev, map[string]any{"brightness": 42.5, "state": "inactive", "label": "Renamed", "other": 1}); err != nil {
		t.Fatal(err)
	}
	if !peer.waitLine(fmt.Sprintf("write %d 1:1 85 42.5 8", port), 5*time.Second) || !peer.waitLine(fmt.Sprintf("write %d 5:1 85 0 16", port), 5*time.Second) {
		t.Fatalf("peer did not see the writes: %v", peer.lines)
	}
	sink.Wait(t, 10*time.Second, "written values polled back", func(data []connector.Data) bool {
		ao, _ := drivertest.Latest(data, dev, "ao", false)
		st, _ := drivertest.Latest(data, dev, "state", false)
		pa, _ := drivertest.Latest(data, dev, "aoPriorities", false)
		raw, _ := pa.(json.RawMessage)
		return ao == 42.5 && st == int64(0) && strings.Contains(string(raw), "null,42.5,null")
	})
	if err := c.OnAttributes(context.Background(), dev, map[string]any{"brightness": nil}); err != nil {
		t.Fatal(err)
	}
	sink.Wait(t, 10*time.Second, "relinquished", func(data []connector.Data) bool {
		ao, _ := drivertest.Latest(data, dev, "ao", false)
		return ao == 0.0
	})

	// Configured RPCs.
	res, err := rpc(t, c, dev, "set_state", 1)
	if err != nil || resultValue(t, res) != 1.0 {
		t.Fatalf("set_state %#v %v", res, err)
	}
	if !peer.waitLine(fmt.Sprintf("write %d 4:1 85 1 16", port), 5*time.Second) {
		t.Error("set_state not written")
	}
	if _, err := rpc(t, c, dev, "set_state", map[string]any{"value": "inactive"}); err != nil {
		t.Fatal(err)
	}
	res, err = rpc(t, c, dev, "get_state", nil)
	if err != nil || resultValue(t, res) != 0.0 {
		t.Fatalf("get_state %#v %v", res, err)
	}

	// Reserved get/set (upstream's RPC test vectors).
	res, err = rpc(t, c, dev, "set", "objectType=analogOutput;objectId=1;propertyId=presentValue;priority=3;value=56;")
	if err != nil || resultValue(t, res) != "56" {
		t.Fatalf("set %#v %v", res, err)
	}
	res, err = rpc(t, c, dev, "get", "objectType=analogOutput;objectId=1;propertyId=presentValue;")
	if err != nil || resultValue(t, res) != 56.0 {
		t.Fatalf("get %#v %v", res, err)
	}
	res, err = rpc(t, c, dev, "get", "objectType=analogOutput;objectId=1;propertyId=priorityArray;")
	if err != nil || !strings.HasPrefix(string(resultValue(t, res).(json.RawMessage)), "[null,null,56,null") {
		t.Fatalf("get priorityArray %#v %v", res, err)
	}
	for _, bad := range []struct{ method, params, want string }{
		{"get", "objectType= binaryInput;objectId=1;propertyId=presentValue;", "objectType=<objectType>;objectId=<objectId>;propertyId=<propertyId>;"},
		{"set", "objectType=binaryInput ;objectId=1;propertyId=presentValue;value=69;", "priority=<priority>;value=<value>;"},
		{"set", "objectType=binaryInputs;objectId=1;propertyId=presentValue;value=69;", "unknown object type"},
		{"set", "objectType=analogOutput;objectId=1;propertyId=presentValue;priority=17;value=1;", "priority"},
		{"set", "", "no params"},
		{"get", "objectType=analogInput;objectId=77;propertyId=presentValue;", "unknownObject"},
		{"set", "objectType=binaryInput;objectId=1;propertyId=presentValue;value=1;", "writeAccessDenied"},
		{"set", "objectType=analogOutput;objectId=1;propertyId=presentValue;value=warm;", "want a number"},
		{"nope", "", "no serverSideRpc method"},
	} {
		var p any = bad.params
		if bad.params == "" {
			p = nil
		}
		if _, err := rpc(t, c, dev, bad.method, p); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%s %q: %v, want %q", bad.method, bad.params, err, bad.want)
		}
	}
	if _, err := rpc(t, c, "Nobody", "get", "objectType=analogInput;objectId=1;propertyId=presentValue;"); err == nil {
		t.Error("RPC to an unknown device")
	}
	if _, err := rpc(t, c, "", "get", "x"); err == nil {
		t.Error("connector RPC")
	}
}
