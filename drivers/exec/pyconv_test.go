package exec

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tbgw/tbgw/codec"
)

// A custom converter block of a built-in connector naming a Python class
// runs the class in the shared converter host.
func TestPythonConverterForBuiltInConnectors(t *testing.T) {
	py := python3(t)
	ext, _ := filepath.Abs("../../extensions")
	t.Setenv("TBGW_PYTHON", py)
	t.Setenv("TBGW_PYTHON_HOST", filepath.Join(ext, "tbgw_host.py"))
	t.Setenv("TBGW_PYTHON_EXTENSIONS", filepath.Join(ext, "examples"))
	t.Cleanup(func() {
		h := sharedHost(filepath.Join(ext, "tbgw_host.py"))
		h.mu.Lock()
		h.stop()
		h.mu.Unlock()
	})
	u, err := codec.NewUplink("DemoMqttUplinkConverter", json.RawMessage(`{"scale":2}`))
	if err != nil {
		t.Fatal(err)
	}
	data, err := u.Convert("sensors/dev1", []byte(`{"values":{"t":21,"h":40.5},"ts":1000,"fw":"1.0"}`), 0)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := json.Marshal(data)
	want := `[{"Device":"dev1","Type":"mqtt-demo","Attributes":[{"Key":"fw","Value":"1.0","TS":0,"Report":null}],` +
		`"Telemetry":[{"Key":"h","Value":81,"TS":1000,"Report":null},{"Key":"t","Value":42,"TS":1000,"Report":null}]}]`
	if string(got) != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	data, err = u.Convert("sensors/dev2", []byte{0x01, 0xff}, 0)
	if err != nil || len(data) != 1 || data[0].Telemetry[0].Value != "01ff" {
		t.Fatalf("bytes payload: %+v, %v", data, err)
	}
	// A converter error is an error of that message only.
	if _, err := u.Convert("sensors/dev3", []byte(`{"values":{"t":null}}`), 0); err == nil || !strings.Contains(err.Error(), "TypeError") {
		t.Fatalf("failing convert: %v", err)
	}
	if _, err := u.Convert("sensors/dev4", []byte(`{"values":{"t":1}}`), 0); err != nil {
		t.Fatalf("after a failure: %v", err)
	}
	// The class is looked up when the converter is built (connector
	// start), and the error names it and where it was looked for.
	if _, err := codec.NewUplink("NoSuchConverter", nil); err == nil ||
		!strings.Contains(err.Error(), "class NoSuchConverter not found") || !strings.Contains(err.Error(), "examples") {
		t.Fatalf("unknown class: %v", err)
	}
}

func pyTestHost(t *testing.T) {
	py := python3(t)
	ext, _ := filepath.Abs("../../extensions")
	t.Setenv("TBGW_PYTHON", py)
	t.Setenv("TBGW_PYTHON_HOST", filepath.Join(ext, "tbgw_host.py"))
	t.Setenv("TBGW_PYTHON_EXTENSIONS", filepath.Join(ext, "examples"))
	t.Cleanup(func() {
		h := sharedHost(filepath.Join(ext, "tbgw_host.py"))
		h.mu.Lock()
		h.stop()
		h.loads = nil
		h.mu.Unlock()
	})
}

// The calling conventions of upstream's connectors: each example converter
// gets the arguments its upstream connector passes.
func TestPythonConverterCalls(t *testing.T) {
	pyTestHost(t)
	for _, c := range []struct {
		call, class, cfg, args, want string
	}{
		{"modbus", "DemoModbusUplinkConverter",
			`{"deviceName":"M1","deviceType":"meter","unitId":1,"timeseries":[{"tag":"power","functionCode":3,"address":0,"objectsCount":2,"scale":2},{"tag":"bad","functionCode":3,"address":9,"objectsCount":1}],"attributes":[{"tag":"on","functionCode":1,"address":0,"objectsCount":1}]}`,
			`{"data":[{"telemetry":{"power":[{"function_code":3,"address":0,"count":2,"unit":1,"registers":[1,2]}],"bad":[{"function_code":3,"address":9,"count":1,"exception_code":2,"error":"illegal data address"}]},"attributes":{"on":[{"function_code":1,"address":0,"count":1,"bits":[true]}]}}]}`,
			`"Device":"M1","Type":"meter","Attributes":[{"Key":"on","Value":1,`},
		{"opcua", "DemoOpcUaUplinkConverter",
			`{"device_name":"O1","device_type":"plc","deviceNodePattern":"Root"}`,
			`{"configs":[{"node":"ns=2;s=T","key":"t","section":"timeseries","timestampLocation":"sourceTimestamp"},{"node":"ns=2;s=N","key":"n","section":"attributes"},{"node":"ns=2;s=X","key":"x","section":"timeseries"}],"values":[{"value":1.25,"variantType":"Double","status":{"name":"Good","value":0},"sourceTimestamp":5000},{"value":"abc","variantType":"String","status":{"name":"Good","value":0}},{"value":null,"variantType":"Null","status":{"name":"BadNodeIdUnknown","value":2150891520}}]}`,
			`"Device":"O1","Type":"plc","Attributes":[{"Key":"n_string","Value":"abc",`},
		{"snmp", "DemoSNMPUplinkConverter",
			`{"deviceName":"S1","ip":"127.0.0.1","attributes":[{"key":"name","method":"get","oid":"1.3.6.1.2.1.1.5.0"}],"telemetry":[{"key":"up","method":"get","oid":"1.3.6.1.2.1.1.3.0"}]}`,
			`{"device":{"deviceName":"S1","attributes":[{"key":"name"}],"telemetry":[{"key":"up"}]},"data":{"name":"probe","up":42}}`,
			`"Device":"S1","Type":"default","Attributes":[{"Key":"name","Value":"PROBE",`},
		{"bacnet", "DemoBACnetUplinkConverter",
			`{"deviceName":"B1","deviceType":"ahu"}`,
			`{"config":[{"key":"temp","type":"timeseries","objectType":"analogValue","objectId":1,"propertyId":["presentValue"]}],"data":[[["analog-value",1],"present-value",null,21.5],[["analog-value",1],"status-flags",null,{"error":"unknown-property"}],[["analog-value",2],"present-value",null,3.0]]}`,
			`"Device":"B1","Type":"ahu","Attributes":null,"Telemetry":[{"Key":"temp_presentValue","Value":215,`},
	} {
		u, err := codec.NewCallUplink(c.call, c.class, json.RawMessage(c.cfg))
		if err != nil {
			t.Fatalf("%s: %v", c.call, err)
		}
		data, err := u.ConvertCall(json.RawMessage(c.args), 0)
		if err != nil {
			t.Fatalf("%s: %v", c.call, err)
		}
		got, _ := json.Marshal(data)
		if !strings.Contains(string(got), c.want) {
			t.Errorf("%s: got %s\nwant it to contain %s", c.call, got, c.want)
		}
		switch c.call {
		case "modbus":
			if v, ok := point(data, "power"); !ok || v != int64((1<<16|2)*2) {
				t.Errorf("modbus power = %v", v)
			}
			if _, ok := point(data, "bad"); ok {
				t.Errorf("modbus: an exception answer became a value")
			}
		case "opcua":
			if len(data) != 1 || len(data[0].Telemetry) != 1 || data[0].Telemetry[0].TS != 5000 || data[0].Telemetry[0].Value != 2.5 {
				t.Errorf("opcua telemetry: %s", got)
			}
		}
	}
	// The class must be in the connector's folder or any other; a missing
	// one fails when the connector is built.
	_, err := codec.NewCallUplink("modbus", "MissingModbusConverter", json.RawMessage(`{"deviceName":"x"}`))
	if err == nil || !strings.Contains(err.Error(), "class MissingModbusConverter not found") || !strings.Contains(err.Error(), "modbus") {
		t.Fatalf("missing class: %v", err)
	}
	// A constructor that fails fails the build too.
	_, err = codec.NewCallUplink("modbus", "DemoModbusUplinkConverter", json.RawMessage(`{}`))
	if err == nil || !strings.Contains(err.Error(), "deviceName") {
		t.Fatalf("failing constructor: %v", err)
	}
	// After the host dies, the next call starts it again with the classes loaded.
	u, err := codec.NewCallUplink("snmp", "DemoSNMPUplinkConverter", json.RawMessage(`{"deviceName":"S2"}`))
	if err != nil {
		t.Fatal(err)
	}
	ext, _ := filepath.Abs("../../extensions")
	h := sharedHost(filepath.Join(ext, "tbgw_host.py"))
	h.mu.Lock()
	h.stop()
	h.mu.Unlock()
	data, err := u.ConvertCall(json.RawMessage(`{"device":{"telemetry":[{"key":"k"}]},"data":{"k":7}}`), 0)
	if err != nil || len(data) != 1 || data[0].Device != "S2" {
		t.Fatalf("after a host restart: %+v, %v", data, err)
	}
}

func point(data []codec.Data, key string) (any, bool) {
	for _, d := range data {
		for _, p := range append(append([]codec.Point(nil), d.Telemetry...), d.Attributes...) {
			if p.Key == key {
				return p.Value, true
			}
		}
	}
	return nil, false
}
