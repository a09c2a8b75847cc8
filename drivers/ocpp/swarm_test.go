package ocpp

import (
	"encoding/json"
	"runtime"
	"testing"

	"github.com/tbgw/tbgw/drivers/drivertest"
)

// TestSwarm connects 200 ocpp-rpc 1.6J charge points at once (then 50
// 2.0.1 ones next to them), each booting and
// sending 5 MeterValues, and logs the rates and the heap they cost.
func TestSwarm(t *testing.T) {
	const n, meters = 200, 5
	sink := drivertest.NewSink()
	cfg := sampleWith(t, func(m map[string]any) {
		delete(m["centralSystem"].(map[string]any), "security")
		m["chargePoints"] = []any{map[string]any{"idRegexpPattern": "SW", "deviceNameExpression": "${ChargePointId}",
			"timeseries": []any{map[string]any{"messageTypeFilter": "MeterValues", "key": "e", "value": "${meter_value[0].sampled_value[0].value}"}}}}
	})
	c, _ := start(t, cfg, sink)
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	s := startSim(t)
	total := 0
	for _, proto := range []string{"ocpp1.6", "ocpp2.0.1"} {
		prefix := "SW" + proto[4:] + "-"
		n := n
		if proto == "ocpp2.0.1" {
			n = 50 // the peer's 2.0.1 schema checks are slow to set up per client
		}
		total += n
		r := s.ok(map[string]any{"op": "swarm", "n": n, "endpoint": "ws://" + c.ListenAddr(), "prefix": prefix, "protocol": proto, "meters": meters})
		if r["connected"].(float64) != float64(n) {
			t.Fatalf("%s: %v", proto, r)
		}
		if got := c.Stats()["chargePointsConnected"]; got < uint64(total) {
			t.Errorf("%s: %d connected", proto, got)
		}
		runtime.ReadMemStats(&after)
		b, _ := json.Marshal(r)
		t.Logf("%s: %s; %.0f MeterValues/s end to end (one node process, sequential per charger); heap +%d KiB",
			proto, b, r["meterCalls"].(float64)/(r["meterMs"].(float64)/1000), (int64(after.HeapInuse)-int64(before.HeapInuse))/1024)
	}
	devices := map[string]bool{}
	for _, d := range sink.Data() {
		devices[d.Device] = true
	}
	if len(devices) != total || len(sink.Data()) != total*meters {
		t.Errorf("%d devices, %d items", len(devices), len(sink.Data()))
	}
	s.ok(map[string]any{"op": "close"})
}
