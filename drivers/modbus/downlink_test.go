package modbus

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tbgw/tbgw/drivers/drivertest"
	"github.com/tbgw/tbgw/gw/connector"
)

// writeCase is a value written by attribute update and read back by
// pymodbus' payload decoder on the peer.
type writeCase struct {
	typ   string
	fc    int
	count int
	value any // as the gateway hands it over (JSON numbers are float64)
	want  any // what pymodbus decodes
}

var writeCases = []writeCase{
	{"8int", 6, 1, -18.0, -18.0},
	{"16int", 6, 1, -1234.0, -1234.0},
	{"16uint", 16, 1, 4660.0, 4660.0},
	{"16float", 16, 1, 1.24, 1.240234375},
	{"32int", 16, 2, 305419896.0, 305419896.0},
	{"32uint", 16, 2, 4000000000.0, 4e9},
	{"32float", 16, 2, 12.34, 12.34000015258789},
	{"64int", 16, 4, -3735928559.0, -3735928559.0},
	{"64uint", 16, 4, 1e15, 1e15},
	{"64float", 16, 4, -123.45, -123.45},
	{"string", 16, 3, "abcdef", "abcdef"},
}

func writeSetup(port int, byteOrder, wordOrder string) cfgMap {
	var updates []any
	for i, w := range writeCases {
		updates = append(updates, cfgMap{"tag": "a_" + w.typ, "type": w.typ, "functionCode": w.fc, "objectsCount": w.count, "address": 10 * i})
	}
	updates = append(updates,
		cfgMap{"tag": "a_bits", "type": "bits", "functionCode": 15, "objectsCount": 16, "address": 100},
		cfgMap{"tag": "a_coil", "type": "bits", "functionCode": 5, "objectsCount": 1, "address": 200})
	rpc := []any{
		cfgMap{"tag": "setF", "type": "32float", "functionCode": 16, "objectsCount": 2, "address": 500},
		cfgMap{"tag": "getF", "type": "32float", "functionCode": 3, "objectsCount": 2, "address": 500},
		cfgMap{"tag": "getCoils", "type": "bits", "functionCode": 1, "objectsCount": 16, "address": 100},
	}
	return cfgMap{"master": cfgMap{"slaves": []any{cfgMap{
		"host": "127.0.0.1", "port": port, "type": "tcp", "method": "socket", "unitId": 1, "deviceName": "W",
		"pollPeriod": 60000, "byteOrder": byteOrder, "wordOrder": wordOrder, "timeout": 3,
		"attributeUpdates": updates, "rpc": rpc,
	}}}}
}

func reply(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// Attribute updates and RPC writes in every byte/word order, read back
// with pymodbus' decoder on the peer.
func TestPymodbusWrites(t *testing.T) {
	for _, o := range orders {
		t.Run(o[0]+"-"+o[1], func(t *testing.T) {
			port := drivertest.FreePort(t)
			p := startPymodbus(t, "tcp", "127.0.0.1", port, cfgMap{"units": []int{1}})
			c := newConnector(t, writeSetup(port, o[0], o[1]))
			drivertest.Run(t, c, drivertest.NewSink())
			ctx := context.Background()
			values := map[string]any{}
			for _, w := range writeCases {
				values["a_"+w.typ] = w.value
			}
			list := []any{false, true, false, false, false, false, true, true, true, true, false, true, false, false, true, true}
			values["a_bits"] = list
			values["a_coil"] = true
			values["unrelated"] = 1.0
			if err := c.OnAttributes(ctx, "W", values); err != nil {
				t.Fatal(err)
			}
			for i, w := range writeCases {
				got := p.cmd(map[string]any{"cmd": "decode", "table": "hr", "address": 10 * i, "count": w.count,
					"type": w.typ, "byteorder": o[0], "wordorder": o[1]})["value"]
				if !reflect.DeepEqual(got, w.want) {
					t.Errorf("%s: pymodbus reads %v, want %v", w.typ, got, w.want)
				}
			}
			// Upstream writes this list as these coils (its builder's to_coils).
			coils := p.cmd(map[string]any{"cmd": "get", "table": "co", "address": 100, "count": 16})["values"]
			want := []any{true, true, false, false, false, false, true, false, true, true, false, false, true, false, true, true}
			if !reflect.DeepEqual(coils, want) {
				t.Errorf("coils %v, want %v", coils, want)
			}
			if v := p.cmd(map[string]any{"cmd": "get", "table": "co", "address": 200, "count": 1})["values"]; !reflect.DeepEqual(v, []any{true}) {
				t.Errorf("coil %v", v)
			}
			// ... and reads them back as the list written.
			r, err := c.OnRPC(ctx, connector.RPC{Device: "W", Method: "getCoils", Params: json.RawMessage("null")})
			if err != nil || reply(t, r) != `{"result":{"value":[false,true,false,false,false,false,true,true,true,true,false,true,false,false,true,true]}}` {
				t.Errorf("getCoils: %s %v", reply(t, r), err)
			}

			// Device RPC: write then read.
			r, err = c.OnRPC(ctx, connector.RPC{Device: "W", Method: "setF", Params: json.RawMessage("56.5")})
			if err != nil || reply(t, r) != `{"result":{"value":56.5}}` {
				t.Errorf("setF: %s %v", reply(t, r), err)
			}
			if v := p.cmd(map[string]any{"cmd": "decode", "table": "hr", "address": 500, "count": 2, "type": "32float",
				"byteorder": o[0], "wordorder": o[1]})["value"]; v != 56.5 {
				t.Errorf("setF wrote %v", v)
			}
			r, err = c.OnRPC(ctx, connector.RPC{Device: "W", Method: "getF", Params: json.RawMessage("null")})
			if err != nil || reply(t, r) != `{"result":{"value":56.5}}` {
				t.Errorf("getF: %s %v", reply(t, r), err)
			}
		})
	}
}

// RPC reply shapes and the reserved get/set grammar of upstream, and
// connector RPCs.
func TestPymodbusRPC(t *testing.T) {
	port := drivertest.FreePort(t)
	p := startPymodbus(t, "tcp", "127.0.0.1", port, cfgMap{"units": []int{1, 2}})
	c := newConnector(t, writeSetup(port, "BIG", "BIG"))
	drivertest.Run(t, c, drivertest.NewSink())
	ctx := context.Background()
	call := func(dev, method, params string) (string, error) {
		r, err := c.OnRPC(ctx, connector.RPC{Device: dev, Method: method, Params: json.RawMessage(params), Timeout: 5 * time.Second})
		if err != nil {
			return "", err
		}
		return reply(t, r), nil
	}
	for _, cs := range []struct{ dev, method, params, want string }{
		{"W", "nope", "1", `{"result":{"error":"Method not found for nope"}}`},
		{"W", "set", `"type=16int;functionCode=6;objectsCount=1;address=600;value=-10;"`, `{"result":{"value":"-10"}}`},
		{"W", "get", `"type=16int;functionCode=3;objectsCount=1;address=600;"`, `{"result":{"value":-10}}`},
		{"W", "SET", `"type=32float;functionCode=16;objectsCount=2;address=602;value=2.5;"`, `{"result":{"value":"2.5"}}`},
		{"W", "get", `"type=32float;functionCode=3;objectsCount=2;address=602;"`, `{"result":{"value":2.5}}`},
		{"W", "set", `"type=16int;functionCode=6;objectsCount=1;address=600;value=abc;"`, `{"result":{"error":"invalid literal for int() with base 10: 'abc'"}}`},
		{"W", "get", `"type=16int;functionCode=3;objectsCount=1;address=60000;"`, `{"result":{"error":"modbus exception 2 (illegal data address) for function 3"}}`},
		{"W", "setF", `"x"`, `{"result":{"error":"could not convert string to float: 'x'"}}`},
		{"", "read", `{"functionCode":3,"address":600,"objectsCount":1,"type":"16int"}`, `[{"device_name":"W","result":-10}]`},
		{"", "write", `{"functionCode":6,"address":601,"objectsCount":1,"type":"16int","value":77}`, `[{"device_name":"W","result":77}]`},
		// Upstream's vectors (tests/unit/connectors/modbus/test_server_side_connector_rpc.py).
		{"", "get", `{"functionCode":333,"address":2,"objectsCount":1,"type":"16int"}`, `[{"device_name":"W","error":"Unsupported function code in RPC request."}]`},
		{"", "set", `{"functionCode":333,"address":2,"objectsCount":1,"type":"16int","value":"78"}`, `[{"device_name":"W","error":"Unsupported function code in RPC request."}]`},
		{"", "read", fmt.Sprintf(`{"host":"127.0.0.1","port":%d,"type":"tcp","method":"socket","unitId":2,"deviceName":"adhoc","functionCode":3,"address":601,"objectsCount":1,"type":"16int"}`, port),
			`[{"device_name":"adhoc","result":0}]`},
		{"", "read", `{"host":"127.0.0.1","port":1,"type":"tcp","method":"socket","unitId":2,"deviceName":"gone","functionCode":3,"address":0,"objectsCount":1,"type":"16int","timeout":1}`,
			`[{"error":"Failed to connect to device gone","success":false}]`},
	} {
		got, err := call(cs.dev, cs.method, cs.params)
		if err != nil || got != cs.want {
			t.Errorf("%s %s %s:\n got  %s %v\n want %s", cs.dev, cs.method, cs.params, got, err, cs.want)
		}
	}
	if v := p.cmd(map[string]any{"cmd": "get", "table": "hr", "address": 601, "count": 1})["values"]; !reflect.DeepEqual(v, []any{77.0}) {
		t.Errorf("connector rpc wrote %v", v)
	}
	for _, bad := range []struct{ method, params string }{
		{"get", `"type=16int;functionCode=6;objectsCount=1;address=600;"`},
		{"get", `"type=8int;functionCode=3;objectsCount=1;address=600;"`},
		{"set", `"type=16int;functionCode=6;objectsCount=1;address=600;"`},
		{"set", `{"value":1}`},
	} {
		_, err := call("W", bad.method, bad.params)
		if err == nil || !strings.Contains(err.Error(), "does not match with the schema") {
			t.Errorf("%s %s: %v", bad.method, bad.params, err)
		}
	}
	if _, err := call("ghost", "getF", "null"); err == nil {
		t.Error("RPC to an unknown device accepted")
	}
	if err := c.OnAttributes(ctx, "ghost", map[string]any{"a": 1.0}); err == nil {
		t.Error("attributes for an unknown device accepted")
	}
	if err := c.OnAttributes(ctx, "W", map[string]any{"a_16int": "abc"}); err == nil {
		t.Error("bad attribute value accepted")
	}
	_ = math.Pi
}
