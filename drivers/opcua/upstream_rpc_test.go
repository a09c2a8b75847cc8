package opcua

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/tbgw/tbgw/drivers/drivertest"
	"github.com/tbgw/tbgw/gw/connector"
)

// rpcCase is one vector of testdata/upstream/rpc_cases.json.
type rpcCase struct {
	Upstream  string          `json:"upstream"`
	Config    string          `json:"config"`
	Connector bool            `json:"connector"`
	Method    string          `json:"method"`
	Params    json.RawMessage `json:"params"`
	Expired   bool            `json:"expired"`
	Reply     json.RawMessage `json:"reply"`
	Note      string          `json:"note"`
}

// TestUpstreamRPCVectors replays upstream's OPC-UA RPC test vectors through
// OnRPC, one connector per upstream device section, and compares the
// replies as JSON values.
func TestUpstreamRPCVectors(t *testing.T) {
	raw, err := readTestdata("upstream/rpc_cases.json")
	if err != nil {
		t.Fatal(err)
	}
	var table struct{ Cases []rpcCase }
	if err := json.Unmarshal(raw, &table); err != nil {
		t.Fatal(err)
	}
	var order []string
	byConfig := map[string][]rpcCase{}
	for _, tc := range table.Cases {
		if _, ok := byConfig[tc.Config]; !ok {
			order = append(order, tc.Config)
		}
		byConfig[tc.Config] = append(byConfig[tc.Config], tc)
	}
	ts := startServer(t)
	const dev = "OPCUA New Advanced Device"
	for _, name := range order {
		t.Run(name, func(t *testing.T) {
			section, err := readTestdata("upstream/rpc/" + name)
			if err != nil {
				t.Fatal(err)
			}
			cfg := fmt.Sprintf(`{"server": {"url": "URL", "timeoutInMillis": 10000, "pollPeriodInMillis": 1000,
				"identity": {"type": "anonymous"}}, "mapping": [%s]}`, section)
			c, _ := newTestConnector(t, ts, cfg)
			drivertest.Run(t, c, drivertest.NewSink())
			waitDevice(t, c, dev)
			for _, tc := range byConfig[name] {
				ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
				if tc.Expired {
					cancel()
					ctx, cancel = context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
				}
				req := connector.RPC{Device: dev, ID: 1, Method: tc.Method, Params: tc.Params, Timeout: 60 * time.Second}
				if tc.Connector {
					req.Device = ""
				}
				out, err := c.OnRPC(ctx, req)
				cancel()
				if err != nil {
					t.Errorf("%s: error %v", tc.Upstream, err)
					continue
				}
				gotJSON, err := json.Marshal(out)
				if err != nil {
					t.Fatal(err)
				}
				var got, want any
				if err := json.Unmarshal(gotJSON, &got); err != nil {
					t.Fatal(err)
				}
				if err := json.Unmarshal(tc.Reply, &want); err != nil {
					t.Fatalf("%s: reply: %v", tc.Upstream, err)
				}
				if !reflect.DeepEqual(got, want) {
					t.Errorf("%s:\n got %s\nwant %s", tc.Upstream, gotJSON, tc.Reply)
				}
			}
		})
	}
}
