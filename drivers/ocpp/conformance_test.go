package ocpp

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/tbgw/tbgw/drivers/drivertest"
)

// TestConformance runs the connector contract checks with an ocpp-rpc
// charge point sending MeterValues as the data source.
func TestConformance(t *testing.T) {
	s := startSim(t)
	var mu sync.Mutex
	port, connected := 0, 0
	drivertest.Conformance(t, drivertest.Suite{
		Type:    "ocpp",
		Factory: New,
		Config: func(t *testing.T) []byte {
			mu.Lock()
			defer mu.Unlock()
			port = drivertest.FreePort(t)
			return sampleWith(t, func(m map[string]any) {
				m["centralSystem"].(map[string]any)["port"] = port
			})
		},
		Trigger: func(t *testing.T) {
			mu.Lock()
			p := port
			mu.Unlock()
			if connected != p {
				cmd := map[string]any{"op": "connect", "endpoint": fmt.Sprintf("ws://127.0.0.1:%d/bidon/hello", p), "identity": "CP_1",
					"protocol": "ocpp1.6", "headers": map[string]string{"Authorization": bearer}}
				if r := s.do(cmd); r.Error != nil {
					return // not listening yet
				}
				connected = p
			}
			r := s.do(map[string]any{"op": "call", "action": "MeterValues", "params": map[string]any{"connectorId": 1,
				"meterValue": []any{map[string]any{"timestamp": time.Now().UTC().Format(time.RFC3339), "sampledValue": []any{map[string]any{"value": "1"}}}}}})
			if r.Error != nil && r.Error.Code == "" {
				connected = 0 // the connection is gone: reconnect next time
			}
		},
		Bad: map[string]string{
			`{"centralSystem":{"port":-1},"chargePoints":[{"idRegexpPattern":"x"}]}`:                   "centralSystem.port",
			`{"centralSystem":{},"chargePoints":[{"idRegexpPattern":"(("}]}`:                           "chargePoints[0].idRegexpPattern",
			`{"centralSystem":{"connection":{"type":"tls"}},"chargePoints":[{"idRegexpPattern":"x"}]}`: "centralSystem.connection",
		},
	})
}
