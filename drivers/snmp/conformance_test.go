package snmp

import (
	"fmt"
	"testing"

	"github.com/tbgw/tbgw/drivers/drivertest"
)

// The contract every connector keeps, polling a real snmpd.
func TestConformance(t *testing.T) {
	a := startAgent(t)
	dev := func(extra string) string {
		return `{"devices":[{"deviceName":"D","ip":"127.0.0.1"` + extra + `}]}`
	}
	drivertest.Conformance(t, drivertest.Suite{
		Type:    "snmp",
		Factory: New,
		Config: func(t *testing.T) []byte {
			return []byte(fmt.Sprintf(`{"devices":[{"deviceName":"agent","ip":"127.0.0.1","port":%d,"pollPeriod":100,
				"telemetry":[{"key":"uptime","method":"get","oid":"1.3.6.1.2.1.1.3.0"}]}]}`, a.port))
		},
		Bad: map[string]string{
			`{}`:                   "devices: required",
			dev(`,"port":70000`):   "devices[0].port",
			dev(`,"pollPeriod":0`): "devices[0].pollPeriod",
			dev(`,"attributes":[{"key":"k","method":"get","oid":"1.3.x"}]`): "devices[0].attributes[0].oid",
		},
	})
}
