package ocpp

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tbgw/tbgw/drivers/drivertest"
	_ "github.com/tbgw/tbgw/drivers/exec" // the Python converter host
)

// TestPythonConverter: a charge point entry's "extension" naming an
// upstream-style Python class runs in the extension host with Debian's
// python3, against an ocpp-rpc 1.6J charge point: the class names the
// device (get_device_name/get_device_type over the boot profile) and
// converts BootNotification, MeterValues and DataTransfer as upstream's
// charge point calls it; a message the class fails on is still
// acknowledged; downlink reaches the charger by the class's device name.
func TestPythonConverter(t *testing.T) {
	ext, _ := filepath.Abs("../../extensions")
	t.Setenv("TBGW_PYTHON", "/usr/bin/python3")
	t.Setenv("TBGW_PYTHON_HOST", filepath.Join(ext, "tbgw_host.py"))
	t.Setenv("TBGW_PYTHON_EXTENSIONS", filepath.Join(ext, "examples"))
	sink := drivertest.NewSink()
	c, _ := start(t, sampleWith(t, func(m map[string]any) {
		cp := m["chargePoints"].([]any)[0].(map[string]any)
		cp["extension"], cp["demoScale"] = "DemoOcppUplinkConverter", 10
	}), sink)
	s := startSim(t)
	s.ok(connect16(c, "CP_1"))
	s.ok(map[string]any{"op": "call", "action": "BootNotification",
		"params": map[string]any{"chargePointVendor": "Acme", "chargePointModel": "Volt22", "chargePointSerialNumber": "SN9", "firmwareVersion": "1.2.3"}})
	const dev = "Acme-SN9"
	waitFor(t, "connect", func() bool { return strings.Contains(strings.Join(sink.Connects(), ","), dev) })
	if v, ok := sink.Latest(dev, "firmware", true); !ok || v != "1.2.3" {
		t.Errorf("firmware = %v %v", v, ok)
	}
	if v, ok := sink.Latest(dev, "converter", true); !ok || v != "DemoOcppUplinkConverter" {
		t.Errorf("converter = %v %v", v, ok)
	}
	for _, d := range sink.Data() {
		if d.Type != "charger-volt22" {
			t.Errorf("device %s has type %q", d.Device, d.Type)
		}
	}
	s.ok(map[string]any{"op": "call", "action": "MeterValues", "params": map[string]any{"connectorId": 1,
		"meterValue": []any{map[string]any{"timestamp": time.Now().UTC().Format(time.RFC3339), "sampledValue": []any{
			map[string]any{"value": "12.5", "measurand": "Energy.Active.Import.Register"},
			map[string]any{"value": "3.5", "measurand": "Power.Active.Import"}}}}}})
	// The answer came after the data was in the sink.
	if v, ok := sink.Latest(dev, "Energy_Active_Import_Register", false); !ok || jsonOf(v) != "125" {
		t.Errorf("energy = %v %v", v, ok)
	}
	if v, ok := sink.Latest(dev, "Power_Active_Import", false); !ok || jsonOf(v) != "35" {
		t.Errorf("power = %v %v", v, ok)
	}
	// DataTransfer: "data" is decoded from JSON, as upstream does.
	s.ok(map[string]any{"op": "call", "action": "DataTransfer", "params": map[string]any{"vendorId": "acme", "data": `{"temp":21.5}`}})
	if v, ok := sink.Latest(dev, "temp", false); !ok || jsonOf(v) != "21.5" {
		t.Errorf("temp = %v %v", v, ok)
	}
	// The class raises on this one: acknowledged, nothing stored.
	if r := s.ok(map[string]any{"op": "call", "action": "DataTransfer", "params": map[string]any{"vendorId": "acme", "data": "plain"}}); r["status"] != "Accepted" {
		t.Errorf("failed conversion answered %v", r)
	}
	s.ok(map[string]any{"op": "call", "action": "StatusNotification", "params": map[string]any{"connectorId": 1, "errorCode": "NoError", "status": "Preparing"}})
	s.ok(map[string]any{"op": "call", "action": "DataTransfer", "params": map[string]any{"vendorId": "acme", "data": `{"temp":22}`}})
	if v, ok := sink.Latest(dev, "temp", false); !ok || jsonOf(v) != "22" {
		t.Errorf("temp after a failure = %v %v", v, ok)
	}
	// Downlink by the class's device name.
	res, err := rpc(t, c, dev, "rpc1", map[string]any{"setpoint": 16})
	if err != nil {
		t.Fatal(err)
	}
	if got := jsonOf(res); !strings.Contains(got, `"status":"Accepted"`) {
		t.Errorf("rpc1 reply %s", got)
	}
}

// TestPythonConverterArgs: the arguments of convert are the ocpp library's
// keyword arguments (snake_case at every depth, DataTransfer strings
// decoded, BootNotification's vendor and model as Vendor and Model).
func TestPythonConverterArgs(t *testing.T) {
	prof := map[string]any{"Vendor": "Acme", "Model": "M"}
	for _, tc := range []struct{ action, payload, want string }{
		{"MeterValues", `{"connectorId":1,"meterValue":[{"sampledValue":[{"value":"1","unitOfMeasure":"Wh"}]}]}`,
			`{"config":{"deviceName":"D","deviceType":"T","messageType":"MeterValues","profile":{"Model":"M","Vendor":"Acme"}},"data":{"connector_id":1,"meter_value":[{"sampled_value":[{"unit_of_measure":"Wh","value":"1"}]}]}}`},
		{"DataTransfer", `{"vendorId":"v","data":"{\"aB\":1}","messageId":"42"}`,
			`{"config":{"deviceName":"D","deviceType":"T","messageType":"DataTransfer","profile":{"Model":"M","Vendor":"Acme"}},"data":{"data":{"aB":1},"message_id":42,"vendor_id":"v"}}`},
		{"BootNotification", `{"chargePointVendor":"Acme","chargePointModel":"M","firmwareVersion":"1"}`,
			`{"config":{"deviceName":"D","deviceType":"T","messageType":"BootNotification","profile":{"Model":"M","Vendor":"Acme"}},"data":{"Model":"M","Vendor":"Acme","firmware_version":"1"}}`},
	} {
		b, err := pyArgs(tc.action, "D", "T", prof, []byte(tc.payload))
		if err != nil {
			t.Fatal(err)
		}
		var x any
		_ = json.Unmarshal(b, &x)
		if got := jsonOf(x); got != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.action, got, tc.want)
		}
	}
	if _, err := pyArgs("MeterValues", "D", "T", prof, []byte(`[1]`)); err == nil {
		t.Error("a non-object payload was accepted")
	}
}

// TestConverterWithoutHost: a converter class with no extension host
// installed is a warning and the built-in conversion, as in the other
// connectors.
func TestConverterWithoutHost(t *testing.T) {
	t.Setenv("TBGW_PYTHON_HOST", filepath.Join(t.TempDir(), "absent.py"))
	cfg := sampleWith(t, func(m map[string]any) {
		m["chargePoints"].([]any)[0].(map[string]any)["extension"] = "DemoOcppUplinkConverter"
	})
	c, err := New(cfg, drivertest.Env(t, "OCPP", "ocpp"))
	if err != nil {
		t.Fatal(err)
	}
	cp := c.(*Connector).plan.cps[0]
	if cp.custom != nil || cp.conv["MeterValues"] == nil {
		t.Errorf("custom %v, built-in converters %v", cp.custom, cp.conv)
	}
	if w := c.(*Connector).plan.warnings; len(w) != 1 || !strings.Contains(w[0], "no Python extension host") {
		t.Errorf("warnings %q", w)
	}
}

// TestMissingClass: a class the extension folders do not have stops the
// connector at load, naming the key.
func TestMissingClass(t *testing.T) {
	ext, _ := filepath.Abs("../../extensions")
	t.Setenv("TBGW_PYTHON", "/usr/bin/python3")
	t.Setenv("TBGW_PYTHON_HOST", filepath.Join(ext, "tbgw_host.py"))
	t.Setenv("TBGW_PYTHON_EXTENSIONS", filepath.Join(ext, "examples"))
	cfg := sampleWith(t, func(m map[string]any) {
		m["chargePoints"].([]any)[0].(map[string]any)["extension"] = "NoSuchOcppConverter"
	})
	_, err := New(cfg, drivertest.Env(t, "OCPP", "ocpp"))
	if err == nil || !strings.Contains(err.Error(), "chargePoints[0].extension") || !strings.Contains(err.Error(), "NoSuchOcppConverter") {
		t.Errorf("got %v", err)
	}
}

// TestPythonConverter201: the same class with an OCPP 2.0.1 station (the
// boot's charging_station object, numeric sampled values).
func TestPythonConverter201(t *testing.T) {
	ext, _ := filepath.Abs("../../extensions")
	t.Setenv("TBGW_PYTHON", "/usr/bin/python3")
	t.Setenv("TBGW_PYTHON_HOST", filepath.Join(ext, "tbgw_host.py"))
	t.Setenv("TBGW_PYTHON_EXTENSIONS", filepath.Join(ext, "examples"))
	sink := drivertest.NewSink()
	c, _ := start(t, sampleWith(t, func(m map[string]any) {
		delete(m["centralSystem"].(map[string]any), "security")
		m["chargePoints"] = []any{map[string]any{"idRegexpPattern": "CS", "extension": "DemoOcppUplinkConverter"}}
	}), sink)
	s := startSim(t)
	s.ok(map[string]any{"op": "connect", "endpoint": "ws://" + c.ListenAddr(), "identity": "CS-01", "protocol": "ocpp2.0.1"})
	s.ok(map[string]any{"op": "call", "action": "BootNotification", "params": map[string]any{"reason": "PowerUp",
		"chargingStation": map[string]any{"vendorName": "Acme", "model": "DC50", "serialNumber": "S1", "firmwareVersion": "1.2"}}})
	const dev = "Acme-S1"
	waitFor(t, "boot data", func() bool { v, _ := sink.Latest(dev, "firmware", true); return v == "1.2" })
	s.ok(map[string]any{"op": "call", "action": "MeterValues", "params": map[string]any{"evseId": 1,
		"meterValue": []any{map[string]any{"timestamp": time.Now().UTC().Format(time.RFC3339), "sampledValue": []any{
			map[string]any{"value": 7.25, "measurand": "Energy.Active.Import.Register"}}}}}})
	if v, ok := sink.Latest(dev, "Energy_Active_Import_Register", false); !ok || jsonOf(v) != "7.25" {
		t.Errorf("energy = %v %v", v, ok)
	}
	for _, d := range sink.Data() {
		if d.Type != "charger-dc50" {
			t.Errorf("device %s has type %q", d.Device, d.Type)
		}
	}
}
