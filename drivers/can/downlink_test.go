package can

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/tbgw/tbgw/drivers/drivertest"
	"github.com/tbgw/tbgw/gw/connector"
)

func upstream(t *testing.T) *Connector {
	t.Helper()
	raw, err := os.ReadFile("testdata/can.json")
	if err != nil {
		t.Fatal(err)
	}
	c, err := New(raw, drivertest.Env(t, "can", "can"))
	if err != nil {
		t.Fatal(err)
	}
	return c.(*Connector)
}

// TestDownlinkWithoutBus: every downlink answers an error, never hangs,
// while the bus is not connected; configuration problems are named.
func TestDownlinkWithoutBus(t *testing.T) {
	c := upstream(t)
	ctx := context.Background()
	for _, tc := range []struct{ method, params, want string }{
		{"setLightLevel", `{"value":500}`, "not connected"},
		{"sendSameData", `{}`, "dataInHex"},
		{"anything", `{"dataInHex":"01"}`, "no nodeId"},
		{"anything", `{"nodeId":5000,"dataInHex":"01"}`, "outside 0..2047"},
		{"setLightLevel", `{"value":500,"dataLength":"two"}`, "params"},
		{"setLightLevel", `{"value":{"a":1}}`, "cannot encode"},
		{"set", `"nodeId=1;dataInHex=0g;"`, "dataInHex"},
		{"set", `{"nodeId":1}`, "key=value"},
		{"anything", `{"nodeId":1,"isFd":true,"dataInHex":"01"}`, "not connected"},
	} {
		_, err := c.OnRPC(ctx, connector.RPC{Device: "Car", Method: tc.method, Params: json.RawMessage(tc.params)})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s %s: %v, want %q", tc.method, tc.params, err, tc.want)
		}
	}
	if _, err := c.OnRPC(ctx, connector.RPC{Device: "Nobody", Method: "x"}); err == nil {
		t.Error("RPC to an unknown device accepted")
	}
	err := c.OnAttributes(ctx, "Car", map[string]any{"softwareVersion": float64(7), "other": 1.0})
	if err == nil || !strings.Contains(err.Error(), `attribute "softwareVersion"`) || !strings.Contains(err.Error(), "not connected") {
		t.Errorf("attribute update: %v", err)
	}
}

// TestUnknownRPCRefused: without enableUnknownRpc an unlisted method is an
// error naming the method.
func TestUnknownRPCRefused(t *testing.T) {
	c, err := New([]byte(`{"devices":[{"name":"D","serverSideRpc":[{"method":"m","nodeId":1,"dataInHex":"01"}]}]}`), drivertest.Env(t, "can", "can"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.(*Connector).OnRPC(context.Background(), connector.RPC{Device: "D", Method: "x", Params: json.RawMessage(`{"nodeId":2}`)})
	if err == nil || !strings.Contains(err.Error(), `method "x" is not configured`) {
		t.Fatalf("unknown RPC: %v", err)
	}
}
