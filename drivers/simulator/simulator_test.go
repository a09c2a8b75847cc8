package simulator

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/tbgw/tbgw/drivers/drivertest"
	"github.com/tbgw/tbgw/gw/connector"
)

func build(t *testing.T, cfg string) *Simulator {
	t.Helper()
	c, err := New([]byte(cfg), drivertest.Env(t, "sim", "simulator"))
	if err != nil {
		t.Fatal(err)
	}
	return c.(*Simulator)
}

func TestGeneratesAndServesCommands(t *testing.T) {
	s := build(t, `{"devices": 2, "periodMs": 20, "telemetry": [
		{"key": "n", "type": "counter"},
		{"key": "w", "type": "randomWalk", "min": 0, "max": 10, "step": 1},
		{"key": "s", "type": "sine", "min": -1, "max": 1},
		{"key": "c", "type": "constant", "value": {"a": 1}}],
		"attributes": [{"key": "model", "value": "X"}]}`)
	sink := drivertest.NewSink()
	drivertest.Run(t, s, sink)
	sink.Wait(t, 10*time.Second, "5 samples of device 2", func(d []connector.Data) bool {
		v, ok := drivertest.Latest(d, "Sim Device 2", "n", false)
		return ok && v.(int64) >= 5
	})
	if v, _ := sink.Latest("Sim Device 1", "model", true); v != "X" {
		t.Fatalf("attribute model = %v", v)
	}
	if v, _ := sink.Latest("Sim Device 1", "c", false); string(v.(json.RawMessage)) != `{"a":1}` {
		t.Fatalf("constant = %v", v)
	}
	for _, d := range sink.Data() {
		for _, p := range d.Telemetry {
			if p.Key == "w" && (p.Value.(float64) < 0 || p.Value.(float64) > 10) {
				t.Fatalf("random walk left its range: %v", p.Value)
			}
		}
	}
	ctx := context.Background()
	res, err := s.OnRPC(ctx, connector.RPC{Device: "Sim Device 1", Method: "setValue", Params: json.RawMessage(`{"key":"n","value":42}`)})
	if err != nil || res.(map[string]any)["success"] != true {
		t.Fatalf("setValue: %v %v", res, err)
	}
	sink.Wait(t, 10*time.Second, "pinned value", func(d []connector.Data) bool {
		v, _ := drivertest.Latest(d, "Sim Device 1", "n", false)
		return v == int64(42)
	})
	res, _ = s.OnRPC(ctx, connector.RPC{Device: "Sim Device 1", Method: "getValue", Params: json.RawMessage(`{"key":"n"}`)})
	if b, _ := json.Marshal(res); string(b) != `{"result":{"value":42}}` {
		t.Fatalf("getValue: %s", b)
	}
	res, _ = s.OnRPC(ctx, connector.RPC{Device: "Sim Device 1", Method: "nope"})
	if b, _ := json.Marshal(res); !strings.Contains(string(b), "Method not found") {
		t.Fatalf("unknown method: %s", b)
	}
	if _, err := s.OnRPC(ctx, connector.RPC{Device: "ghost", Method: "getValue"}); err == nil {
		t.Fatal("RPC for an unknown device must fail")
	}
	if err := s.OnAttributes(ctx, "Sim Device 2", map[string]any{"mode": "eco"}); err != nil {
		t.Fatal(err)
	}
	sink.Wait(t, 10*time.Second, "attribute echo", func(d []connector.Data) bool {
		v, _ := drivertest.Latest(d, "Sim Device 2", "mode", true)
		return v == "eco"
	})
}

var badConfigs = map[string]string{
	`{"devices": -1}`: "devices: must be between",
	`{"telemetry": [{"key": "k", "type": "wobble"}]}`:            "telemetry[0].type: unknown generator",
	`{"telemetry": [{"type": "counter"}]}`:                       "telemetry[0].key: required",
	`{"telemetry": [{"key": "k", "type": "constant"}]}`:          "telemetry[0].value: required",
	`{"periodMs": "fast"}`:                                       "periodMs: wrong type",
	`{"telemetry": [{"key":"k","type":"sine","min":5,"max":1}]}`: "telemetry[0].max",
}

func TestConfigErrors(t *testing.T) {
	for cfg, want := range badConfigs {
		_, err := New([]byte(cfg), drivertest.Env(t, "sim", "simulator"))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: got %v, want %q", cfg, err, want)
		}
	}
}

func TestConformance(t *testing.T) {
	drivertest.Conformance(t, drivertest.Suite{
		Type:    "simulator",
		Factory: New,
		Config:  func(*testing.T) []byte { return []byte(`{"devices": 2, "periodMs": 20}`) },
		Bad:     badConfigs,
	})
}
