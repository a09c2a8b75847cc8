package modbus

import (
	"testing"

	"github.com/tbgw/tbgw/drivers/drivertest"
)

// The contract every connector keeps, with the slave section as the data
// source (it serves and polls its own registers).
func TestConformance(t *testing.T) {
	drivertest.Conformance(t, drivertest.Suite{
		Type:    "modbus",
		Factory: New,
		Config: func(t *testing.T) []byte {
			return []byte(`{"slave": {"type": "tcp", "host": "127.0.0.1", "port": 0, "method": "socket",
				"deviceName": "Local", "sendDataToThingsBoard": true, "pollPeriod": 50,
				"byteOrder": "BIG", "wordOrder": "BIG",
				"values": {"holding_registers": {"timeseries": [
					{"address": 1, "type": "16uint", "tag": "r1", "objectsCount": 1, "value": 7}]}}}}`)
		},
		Bad: map[string]string{
			`{"master":{"slaves":[{"host":"h","port":1,"method":"socket","deviceName":"D","pollPeriod":1}]}}`:                                       "master.slaves[0].unitId",
			`{"master":{"slaves":[{"host":"h","port":1,"method":"socket","unitId":1,"deviceName":"D","pollPeriod":1000,"byteOrder":"X"}]}}`:         "byteOrder",
			`{"master":{"slaves":[{"host":"h","port":1,"method":"socket","unitId":1,"deviceName":"D","pollPeriod":1000,"tls":{"cafile":"nope"}}]}}`: "tls",
			`{"master": []}`: "master",
		},
	})
}
