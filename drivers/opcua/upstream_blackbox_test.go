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

// upstream's blackbox OPC-UA tests as data (testdata/upstream/blackbox),
// against node-opcua serving upstream's test server address space. The
// cases run in file order on one server: writes come after the reads of
// the same nodes, as in upstream's suite.
func TestUpstreamBlackbox(t *testing.T) {
	raw, err := os.ReadFile("testdata/upstream/blackbox/cases.json")
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		About string `json:"about"`
		Cases []struct {
			Name     string                     `json:"name"`
			Upstream string                     `json:"upstream"`
			Kind     string                     `json:"kind"`
			Mapping  json.RawMessage            `json:"mapping"`
			Expected map[string]json.RawMessage `json:"expected"`
			Method   string                     `json:"method"`
			Params   json.RawMessage            `json:"params"`
			Reply    json.RawMessage            `json:"reply"`
			// Difference: tbgw's reply where it deliberately differs, and why.
			Difference *struct {
				Why   string          `json:"why"`
				Reply json.RawMessage `json:"reply"`
			} `json:"difference"`
		} `json:"cases"`
	}
	if err := json.Unmarshal(raw, &file); err != nil {
		t.Fatal(err)
	}
	if len(file.Cases) < 14 {
		t.Fatalf("%d cases", len(file.Cases))
	}
	ts := startServer(t, "--upstream-blackbox")
	for _, c := range file.Cases {
		t.Run(c.Name, func(t *testing.T) {
			t.Logf("upstream %s", c.Upstream)
			cfg := `{"server": {"url": "URL", "timeoutInMillis": 10000, "reconnectBackoffInitialDelay": 0.2,
  "pollPeriodInMillis": 500, "enableSubscriptions": true, "subCheckPeriodInMillis": 100, "identity": {"type": "anonymous"}},
  "mapping": ` + string(c.Mapping) + `}`
			con, _ := newTestConnector(t, ts, cfg)
			sink := drivertest.NewSink()
			drivertest.Run(t, con, sink)
			const dev = "Temp Sensor"
			switch c.Kind {
			case "uplink":
				var last string
				sink.Wait(t, 30*time.Second, "upstream's expected telemetry", func(data []connector.Data) bool {
					last = ""
					for k, want := range c.Expected {
						v, ok := drivertest.Latest(data, dev, k, false)
						if !ok {
							last += fmt.Sprintf(" %s: not sent;", k)
							continue
						}
						if err := drivertest.SameStored(tbjson.AppendValue(nil, v), want); err != nil {
							last += fmt.Sprintf(" %s: %v;", k, err)
						}
					}
					return last == ""
				})
			case "rpc":
				// The device exists once its first data arrived.
				sink.Wait(t, 30*time.Second, "the device", func(data []connector.Data) bool { return len(data) > 0 })
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				res, err := con.OnRPC(ctx, connector.RPC{Device: dev, Method: c.Method, Params: c.Params, Timeout: 5 * time.Second})
				if err != nil {
					t.Fatalf("rpc: %v", err)
				}
				got, err := tbjson.Marshal(res)
				if err != nil {
					t.Fatal(err)
				}
				want := c.Reply
				if d := c.Difference; d != nil {
					if d.Why == "" {
						t.Fatal("difference without a reason")
					}
					want = d.Reply
				}
				if err := drivertest.SameJSON(got, want); err != nil {
					t.Errorf("reply %s, want %s: %v", got, want, err)
				}
			default:
				t.Fatalf("unknown kind %q", c.Kind)
			}
		})
	}
}
