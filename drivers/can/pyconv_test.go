//go:build !kerneltest

package can

import (
	"context"
	"encoding/json"
	"log/slog"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tbgw/tbgw/drivers/can/socketcan"
	"github.com/tbgw/tbgw/drivers/drivertest"
	_ "github.com/tbgw/tbgw/drivers/exec" // the Python converter host
	"github.com/tbgw/tbgw/gw/connector"
)

// pyEnv points the converter host at Debian's python3 and the example
// converters shipped with tbgw.
func pyEnv(t *testing.T) {
	t.Helper()
	py, err := exec.LookPath("/usr/bin/python3")
	drivertest.RequirePeer(t, err == nil, "python3")
	ext, _ := filepath.Abs("../../extensions")
	t.Setenv("TBGW_PYTHON", py)
	t.Setenv("TBGW_PYTHON_HOST", filepath.Join(ext, "tbgw_host.py"))
	t.Setenv("TBGW_PYTHON_EXTENSIONS", filepath.Join(ext, "examples"))
}

const pyCANConfig = `{"devices": [{
  "name": "Py Car", "type": "car", "strictEval": false,
  "converters": {"uplink": "DemoCanUplinkConverter", "downlink": "DemoCanDownlinkConverter"},
  "timeseries": [{"key": "speed", "nodeId": 256, "value": "1:2:big:int", "command": "0:1:7",
                  "expression": "value * 2 if value else __import__('os')"}],
  "attributes": [{"key": "name", "nodeId": 256, "value": "3:-1:string", "command": "0:1:7", "myOwnKey": 42}],
  "attributeUpdates": [{"attributeOnThingsBoard": "limit", "nodeId": 512, "dataLength": 3}],
  "serverSideRpc": [{"method": "setSpeed", "nodeId": 513, "dataLength": 1, "dataExpression": "not ours"},
                    {"method": "noValue", "nodeId": 514}]
}]}`

// A device's converter classes run in the Python host with upstream's CAN
// calling conventions: the uplink converter gets the frame's items and
// data, the downlink converter the entry and the value, and its bytes
// become the frame.
func TestPythonConverters(t *testing.T) {
	pyEnv(t)
	c, err := New([]byte(pyCANConfig), drivertest.Env(t, "can", "can"))
	if err != nil {
		t.Fatal(err)
	}
	cn := c.(*Connector)
	d := cn.plan.byName["Py Car"]
	if d.pyUp == nil || d.pyDown == nil {
		t.Fatalf("converters not loaded: %+v", d)
	}
	it := cn.plan.routes[route{id: 256}]
	if len(it) != 2 || it[0].py["myOwnKey"] == nil || it[0].py["type"] != "string" || it[1].py["byteorder"] != "big" || it[1].py["is_ts"] != true {
		t.Fatalf("item configs: %+v", it)
	}

	// Uplink: the converter's own arithmetic (×10, its lastFrame attribute)
	// shows; a frame with another command is not the device's.
	frame := func(id uint32, b ...byte) socketcan.Frame {
		f, err := socketcan.NewFrame(id, false, false, false, b)
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	conv := newConverter(cn)
	out := conv.convert([]socketcan.Frame{frame(256, 7, 0x01, 0x02, 'a', 'b'), frame(256, 8, 0, 1), frame(300, 1)})
	got, _ := json.Marshal(out)
	want := `[{"Device":"Py Car","Type":"car","Attributes":[{"Key":"lastFrame","Value":"0701026162","TS":0,"Report":null},` +
		`{"Key":"name","Value":"ab","TS":0,"Report":null}],"Telemetry":[{"Key":"speed","Value":2580,"TS":0,"Report":null}]}]`
	if string(got) != want {
		t.Fatalf("uplink\n got  %s\n want %s", got, want)
	}

	// Downlink: the converter's bytes with the entry's identifier.
	ctx := context.Background()
	dl := d.attrs["limit"]
	b, err := cn.payload(d, dl, nil, dl.py, map[string]any{"value": 300})
	if err != nil || string(b) != "\xa5\x00\x01\x2c" {
		t.Fatalf("attribute update payload % x, %v", b, err)
	}
	if f, err := cn.frame(dl, b); err != nil || f.ID != 512 {
		t.Fatalf("attribute update frame %v, %v", f, err)
	}
	rpc := d.rpcs["setSpeed"]
	if b, err := cn.payload(d, rpc, nil, rpc.py, map[string]any{"value": 9}); err != nil || string(b) != "\xa5\x09" {
		t.Fatalf("RPC payload % x, %v", b, err)
	}
	// Through the connector's handlers: conversion succeeds, the bus is
	// not connected.
	if err := cn.OnAttributes(ctx, "Py Car", map[string]any{"limit": 3.0}); err == nil || !strings.Contains(err.Error(), "not connected") {
		t.Fatalf("attribute update: %v", err)
	}
	for _, tc := range []struct{ method, params, want string }{
		{"setSpeed", `{"value": 3}`, "not connected"},
		{"set", `"nodeId=515;value=7;"`, "not connected"},
		{"noValue", `{"value": "x"}`, "returned None"},
	} {
		_, err := cn.OnRPC(ctx, connector.RPC{Device: "Py Car", Method: tc.method, Params: json.RawMessage(tc.params)})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("RPC %s %s: %v, want %q", tc.method, tc.params, err, tc.want)
		}
	}
}

// A converter class that does not exist stops the connector at load,
// naming the key and the class.
func TestPythonConverterMissing(t *testing.T) {
	pyEnv(t)
	for _, key := range []string{"uplink", "downlink"} {
		cfg := `{"devices": [{"name": "D", "converters": {"` + key + `": "NoSuchCanConverter"},
		  "timeseries": [{"key": "k", "nodeId": 1, "value": "0:1:int"}],
		  "serverSideRpc": [{"method": "m", "nodeId": 2}]}]}`
		_, err := New([]byte(cfg), drivertest.Env(t, "can", "can"))
		if err == nil || !strings.Contains(err.Error(), "converters."+key) || !strings.Contains(err.Error(), "NoSuchCanConverter not found") {
			t.Errorf("%s: %v", key, err)
		}
	}
}

func TestPyBytes(t *testing.T) {
	for _, tc := range []struct{ in, want, err string }{
		{`[1, 2, 255]`, "\x01\x02\xff", ""},
		{`{"bytes": "AQI="}`, "\x01\x02", ""},
		{`[{"bytes": "AQ=="}, 2]`, "\x01\x02", ""},
		{`null`, "", "None"},
		{`[256]`, "", "0 to 255"},
		{`"ab"`, "", "byte values"},
	} {
		b, err := pyBytes(json.RawMessage(tc.in))
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || string(b) != tc.want {
			t.Errorf("%s: % x, %v", tc.in, b, err)
		}
	}
}

// Converter classes that nothing provides (no Go converter, no Python
// extension host) are a warning; the built-in bytes converter is used, as
// in the other connectors.
func TestConvertersWithoutHost(t *testing.T) {
	t.Setenv("TBGW_PYTHON_HOST", "")
	var buf strings.Builder
	env := drivertest.Env(t, "can", "can")
	env.Log = slog.New(slog.NewTextHandler(&buf, nil))
	// The built-in converter compiles the expression (the class would
	// have evaluated it).
	cfg := strings.Replace(pyCANConfig, `value * 2 if value else __import__('os')`, `value`, 1)
	c, err := New([]byte(cfg), env)
	if err != nil {
		t.Fatal(err)
	}
	cn := c.(*Connector)
	d := cn.plan.byName["Py Car"]
	if d.pyUp != nil || d.pyDown != nil {
		t.Fatalf("converters loaded: %+v", d)
	}
	for _, key := range []string{"uplink", "downlink"} {
		if !strings.Contains(buf.String(), "devices[0].converters."+key+": converter") {
			t.Errorf("no warning for %s: %s", key, buf.String())
		}
	}
	f, _ := socketcan.NewFrame(256, false, false, false, []byte{7, 0, 5, 'a'})
	out := newConverter(cn).convert([]socketcan.Frame{f})
	if v, ok := drivertest.Latest(out, "Py Car", "speed", false); !ok || v != int64(5) {
		t.Fatalf("built-in conversion: %+v", out)
	}
}

// BenchmarkPythonUplink: one frame through the example uplink class in
// the extension host (a round trip per frame), against the built-in
// conversion of the same items.
func BenchmarkPythonUplink(b *testing.B) {
	py, err := exec.LookPath("/usr/bin/python3")
	drivertest.RequirePeer(b, err == nil, "python3")
	ext, _ := filepath.Abs("../../extensions")
	b.Setenv("TBGW_PYTHON", py)
	b.Setenv("TBGW_PYTHON_HOST", filepath.Join(ext, "tbgw_host.py"))
	b.Setenv("TBGW_PYTHON_EXTENSIONS", filepath.Join(ext, "examples"))
	f, _ := socketcan.NewFrame(256, false, false, false, []byte{7, 0x01, 0x02, 'a', 'b'})
	for _, tc := range []struct{ name, cfg string }{
		{"python", pyCANConfig},
		{"builtin", strings.Replace(strings.Replace(pyCANConfig, `"converters"`, `"unused"`, 1), `value * 2 if value else __import__('os')`, `value`, 1)},
	} {
		b.Run(tc.name, func(b *testing.B) {
			c, err := New([]byte(tc.cfg), connector.Env{Name: "can", Log: slog.New(slog.DiscardHandler)})
			if err != nil {
				b.Fatal(err)
			}
			conv := newConverter(c.(*Connector))
			frames := []socketcan.Frame{f}
			b.ReportAllocs()
			for b.Loop() {
				if out := conv.convert(frames); len(out) != 1 {
					b.Fatalf("converted %+v", out)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "frames/s")
		})
	}
}
