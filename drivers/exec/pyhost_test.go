package exec

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tbgw/tbgw/drivers/drivertest"
	"github.com/tbgw/tbgw/gw/connector"
)

// The Python extension host runs a connector and converters written in
// upstream's style (extensions/examples/demo) unchanged.
func TestPythonExtensionHost(t *testing.T) {
	py := python3(t)
	ext, _ := filepath.Abs("../../extensions")
	cmd, _ := json.Marshal([]string{py, filepath.Join(ext, "tbgw_host.py")})
	hostCfg, _ := json.Marshal(map[string]any{
		"type": "demo", "class": "DemoConnector",
		"configuration":  filepath.Join(ext, "examples", "demo.json"),
		"extensionsPath": []string{filepath.Join(ext, "examples")},
	})
	raw := `{"command":` + string(cmd) + `,"config":` + string(hostCfg) + `,"stopTimeoutMs":2000}`
	c, err := New([]byte(raw), drivertest.Env(t, "Demo", "exec"))
	if err != nil {
		t.Fatal(err)
	}
	conn := c.(*Conn)
	sink := drivertest.NewSink()
	sink.Attrs["Demo Device"] = map[string]any{"initial": "from TB"}
	drivertest.Run(t, conn, sink)
	sink.Wait(t, 15*time.Second, "converted telemetry and attributes", func(d []connector.Data) bool {
		h, ok1 := drivertest.Latest(d, "Demo Device", "humidity", false)
		s, ok2 := drivertest.Latest(d, "Demo Device", "status", true)
		return ok1 && ok2 && h == 40.0 && s == "ok"
	})
	// gateway.tb_client.client.gw_request_shared_attributes, answered.
	sink.Wait(t, 10*time.Second, "shared attribute request answered", func(d []connector.Data) bool {
		v, ok := drivertest.Latest(d, "Demo Device", "initial_seen", true)
		return ok && v == "from TB"
	})
	if cs := sink.Connects(); len(cs) == 0 || cs[0] != "Demo Device" {
		t.Fatalf("connects %v", cs)
	}
	if d := sink.Data()[0]; d.Type != "demo" {
		t.Fatalf("device type %q", d.Type)
	}
	got, err := rpc(conn, "Demo Device", "setValue", "258", 10*time.Second)
	if err != nil || got != `{"result":{"written":"0102"}}` {
		t.Fatalf("setValue: %s, %v", got, err)
	}
	if _, err := rpc(conn, "Demo Device", "boom", "null", 10*time.Second); err == nil || !strings.Contains(err.Error(), "boom requested") {
		t.Fatalf("raising handler: %v", err)
	}
	got, err = rpc(conn, "Demo Device", "nope", "null", 10*time.Second)
	if err != nil || got != `{"success":false,"error":"unknown method"}` {
		t.Fatalf("unknown method: %s, %v", got, err)
	}
	if err := conn.OnAttributes(context.Background(), "Demo Device", map[string]any{"target": 5}); err != nil {
		t.Fatal(err)
	}
	sink.Wait(t, 10*time.Second, "attribute update applied", func(d []connector.Data) bool {
		v, ok := drivertest.Latest(d, "Demo Device", "applied_target", true)
		return ok && v == int64(5)
	})
	if st := conn.Stats(); st["protocolErrors"] != 0 || st["starts"] != 1 || st["acks"] == 0 {
		t.Fatalf("stats %v", st)
	}
}

// While the storage is full the host's send_to_storage blocks (maxUnacked)
// instead of piling up or losing data: after the storage frees, the demo
// device's temperatures arrive without a gap.
func TestPythonExtensionHostBackpressure(t *testing.T) {
	py := python3(t)
	ext, _ := filepath.Abs("../../extensions")
	cmd, _ := json.Marshal([]string{py, filepath.Join(ext, "tbgw_host.py")})
	hostCfg, _ := json.Marshal(map[string]any{
		"type": "demo", "class": "DemoConnector", "maxUnacked": 4,
		"connector": map[string]any{"periodMs": 10, "devices": []any{map[string]any{
			"name": "BP", "converter": "DemoUplinkConverter", "downlink_converter": "DemoDownlinkConverter",
			"timeseries": []any{map[string]any{"key": "temperature", "tag": "T"}}}}},
		"extensionsPath": []string{filepath.Join(ext, "examples")},
	})
	raw := `{"command":` + string(cmd) + `,"config":` + string(hostCfg) + `,"stopTimeoutMs":2000}`
	c, err := New([]byte(raw), drivertest.Env(t, "BP", "exec"))
	if err != nil {
		t.Fatal(err)
	}
	conn := c.(*Conn)
	sink := &fullSink{Sink: drivertest.NewSink()}
	sink.full.Store(true)
	drivertest.Run(t, conn, sink)
	waitFor(t, 15*time.Second, "storage-full retries", func() bool { return conn.Stats()["storageFullWaits"] >= 5 })
	if n := conn.Stats()["stored"]; n != 0 {
		t.Fatalf("%d stored while full", n)
	}
	sink.full.Store(false)
	sink.Wait(t, 15*time.Second, "30 values", func(d []connector.Data) bool {
		n := 0
		for _, x := range d {
			n += len(x.Telemetry)
		}
		return n >= 30
	})
	var prev float64
	for _, x := range sink.Data() {
		for _, p := range x.Telemetry {
			v := p.Value.(float64)
			if prev != 0 && v != prev+0.5 {
				t.Fatalf("temperature %v after %v: data lost", v, prev)
			}
			prev = v
		}
	}
}
