package knx

import (
	"testing"

	"github.com/tbgw/tbgw/drivers/drivertest"
)

// TestConformance runs the connector contract checks against knxd (in a
// network namespace), polling every 500 ms.
func TestConformance(t *testing.T) {
	if !inNetns(t) {
		return
	}
	r := newRig(t)
	r.answer("1/0/5", stringHex("Kitchen"), false)
	r.answer("1/0/6", "0c 33", false)
	r.answer("1/0/7", "14 6a", false)
	drivertest.Conformance(t, drivertest.Suite{
		Type:    "knx",
		Factory: New,
		Config: func(t *testing.T) []byte {
			return sample(t, func(cl, m map[string]any) {
				cl["gatewayIP"] = knxdIP
				m["devices"].([]any)[0].(map[string]any)["pollPeriod"] = 500
			})
		},
		Bad: map[string]string{
			`{"client":{"type":"TUNNELING_TCP"}}`: "client.type",
			`{"devices":[{"deviceInfo":{},"attributes":[{"key":"k","type":"temperature","groupAddress":"x"}]}]}`: "devices[0].attributes[0].groupAddress",
			`{"serverSideRpc":[{"method":"m","requestType":"read","groupAddress":"1/0/0","dataType":"nope"}]}`:   "serverSideRpc[0].dataType",
		},
	})
}
