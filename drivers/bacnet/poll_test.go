package bacnet

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/tbgw/tbgw/drivers/drivertest"
	"github.com/tbgw/tbgw/gw/connector"
)

// appConfig is an application block on loopback with a random port.
const appConfig = `"application": {"objectName": "TB_gateway", "host": "127.0.0.1", "port": 0, "mask": "8",
	"objectIdentifier": 599, "maxApduLengthAccepted": 1476, "segmentationSupported": "segmentedBoth",
	"vendorIdentifier": 15, "devicesDiscoverPeriodSeconds": 1, "apduTimeout": 1000, "numberOfApduRetries": 1}`

func newConnector(t testing.TB, cfg string) *Connector {
	t.Helper()
	c, err := New([]byte(cfg), drivertest.Env(t, "bacnet", "bacnet"))
	if err != nil {
		t.Fatal(err)
	}
	return c.(*Connector)
}

func value(t testing.TB, sink *drivertest.Sink, device, key string, attr bool) any {
	t.Helper()
	v, ok := sink.Latest(device, key, attr)
	if !ok {
		t.Fatalf("no %s for %s", key, device)
	}
	return v
}

func has(device, key string, attr bool) func([]connector.Data) bool {
	return func(data []connector.Data) bool {
		_, ok := drivertest.Latest(data, device, key, attr)
		return ok
	}
}

// TestPollReadPropertyMultiple: a device at a configured address is found
// by a unicast Who-Is, named from its objectName, and polled with
// ReadPropertyMultiple; values convert as documented.
func TestPollReadPropertyMultiple(t *testing.T) {
	t.Parallel()
	port := freeUDPPort(t)
	peer := startPeer(t, peerConfig{ChangeMs: 100, Devices: []peerDevice{{Port: port, Instance: 1001, Name: "Boiler", AnalogInputs: 3}}})
	cfg := fmt.Sprintf(`{%s, "devices": [{
		"deviceInfo": {"deviceNameExpression": "BACnet Device ${objectName}", "deviceProfileExpression": "vendor-${vendorId}",
			"deviceProfileExpressionSource": "expression"},
		"host": "127.0.0.1", "port": "%d", "pollPeriod": 200,
		"attributes": [{"key": "name", "objectType": "analogInput", "objectId": 0, "propertyId": "objectName"},
			{"key": "bv", "objectType": "binaryValue", "objectId": 1, "propertyId": "presentValue"}],
		"timeseries": [
			{"key": "temp", "objectType": "analogInput", "objectId": 0, "propertyId": "presentValue"},
			{"key": "ai${objectName}", "objectType": "analogInput", "objectId": "1-2", "propertyId": "presentValue"},
			{"key": "av", "objectType": "analogOutput", "objectId": 1, "propertyId": ["presentValue", "statusFlags"]},
			{"key": "msv", "objectType": "multiStateValue", "objectId": [1], "propertyId": "presentValue"},
			{"key": "missing", "objectType": "analogInput", "objectId": 77, "propertyId": "presentValue"}]}]}`, appConfig, port)
	c := newConnector(t, cfg)
	sink := drivertest.NewSink()
	drivertest.Run(t, c, sink)
	dev := "BACnet Device Boiler"
	t.Cleanup(func() {
		if t.Failed() {
			dump(t, sink)
		}
	})
	sink.Wait(t, 10*time.Second, "telemetry", has(dev, "aiAI 2", false))
	first := value(t, sink, dev, "temp", false).(float64)
	if first < 20 {
		t.Errorf("temp %v", first)
	}
	if v := value(t, sink, dev, "name", true); v != "AI 0" {
		t.Errorf("name %v", v)
	}
	if v := value(t, sink, dev, "bv", true); v != int64(1) {
		t.Errorf("bv %#v", v)
	}
	if v := value(t, sink, dev, "msv", false); v != int64(2) {
		t.Errorf("msv %#v", v)
	}
	if v := value(t, sink, dev, "av.presentValue", false); v != float64(0) {
		t.Errorf("av.presentValue %#v", v)
	}
	flags := value(t, sink, dev, "av.statusFlags", false).(json.RawMessage)
	var fm map[string]bool
	if err := json.Unmarshal(flags, &fm); err != nil || len(fm) != 4 || fm["inAlarm"] {
		t.Errorf("statusFlags %s", flags)
	}
	if _, ok := sink.Latest(dev, "missing", false); ok {
		t.Error("a value for an unknown object")
	}
	for _, d := range sink.Data() {
		if d.Device == dev && d.Type != "vendor-15" {
			t.Fatalf("device type %q", d.Type)
		}
	}
	// The value changes between polls.
	sink.Wait(t, 10*time.Second, "a changed temperature", func(data []connector.Data) bool {
		v, ok := drivertest.Latest(data, dev, "temp", false)
		return ok && v.(float64) > first
	})
	if peer.count("rpm ") == 0 {
		t.Error("no ReadPropertyMultiple")
	}
	if got := sink.Connects(); len(got) == 0 || got[0] != dev {
		t.Errorf("connects %v", got)
	}
	st := c.Stats()
	if st["devices"] != 1 || st["polls"] < 2 || st["requests"] == 0 {
		t.Errorf("stats %v", st)
	}
}

func dump(t testing.TB, sink *drivertest.Sink) {
	for _, d := range sink.Data() {
		t.Logf("%s %s attrs=%v ts=%v", d.Device, d.Type, d.Attributes, d.Telemetry)
	}
}
