package opcua

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/tbgw/tbgw/codec/tbjson"
	"github.com/tbgw/tbgw/drivers/drivertest"
	"github.com/tbgw/tbgw/gw/connector"
)

// upstream's OPC-UA attribute-update unit tests as data
// (testdata/upstream/attribute_updates.json), through OnAttributes against
// the test server, node values read back afterwards.
func TestUpstreamAttributeUpdateVectors(t *testing.T) {
	raw, err := os.ReadFile("testdata/upstream/attribute_updates.json")
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		About string `json:"about"`
		Cases []struct {
			Upstream string             `json:"upstream"`
			Mapping  json.RawMessage    `json:"mapping"`
			Update   map[string]any     `json:"update"`
			Expect   map[string]float64 `json:"expect"`
		} `json:"cases"`
	}
	if err := json.Unmarshal(raw, &file); err != nil {
		t.Fatal(err)
	}
	if len(file.Cases) < 6 {
		t.Fatalf("%d cases", len(file.Cases))
	}
	ts := startServer(t)
	nodes := map[string]string{"Humidity": "ns=1;s=MyObject.Humidity", "Setpoint": "ns=1;s=MyObject.Setpoint"}
	initial := map[string]float64{"Humidity": 45.5, "Setpoint": 1.5}
	for _, c := range file.Cases {
		t.Run(c.Upstream, func(t *testing.T) {
			var m struct {
				DeviceInfo struct {
					Name string `json:"deviceNameExpression"`
				} `json:"deviceInfo"`
			}
			if err := json.Unmarshal(c.Mapping, &m); err != nil {
				t.Fatal(err)
			}
			con, _ := newTestConnector(t, ts, `{"server": {"url": "URL", "timeoutInMillis": 10000, "reconnectBackoffInitialDelay": 0.2,
  "pollPeriodInMillis": 500, "subCheckPeriodInMillis": 100}, "mapping": [`+string(c.Mapping)+`]}`)
			sink := drivertest.NewSink()
			drivertest.Run(t, con, sink)
			sink.Wait(t, 30*time.Second, "the device", func(data []connector.Data) bool { return len(data) > 0 })
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			rpc := func(method, params string) string {
				p, _ := json.Marshal(params)
				res, err := con.OnRPC(ctx, connector.RPC{Device: m.DeviceInfo.Name, Method: method, Params: p, Timeout: 5 * time.Second})
				if err != nil {
					t.Fatalf("%s %s: %v", method, params, err)
				}
				b, _ := tbjson.Marshal(res)
				return string(b)
			}
			for name, v := range initial { // the state every case starts from
				rpc("set", fmt.Sprintf("%s; %v", nodes[name], v))
			}
			if err := con.OnAttributes(ctx, m.DeviceInfo.Name, c.Update); err != nil {
				t.Logf("OnAttributes: %v", err) // upstream logs and goes on too
			}
			for name, want := range c.Expect {
				got := rpc("get", nodes[name])
				w := fmt.Sprintf(`{"result":{"value":%s}}`, tbjson.AppendFloat(nil, want))
				if err := drivertest.SameJSON([]byte(got), []byte(w)); err != nil {
					t.Errorf("%s after the update: %s, want %s: %v", name, got, w, err)
				}
			}
		})
	}
}
