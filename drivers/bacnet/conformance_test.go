package bacnet

import (
	"fmt"
	"testing"

	"github.com/tbgw/tbgw/drivers/drivertest"
)

func TestConformance(t *testing.T) {
	port := freeUDPPort(t)
	startPeer(t, peerConfig{ChangeMs: 100, Devices: []peerDevice{{Port: port, Instance: 5001, Name: "Conf", AnalogInputs: 1}}})
	drivertest.Conformance(t, drivertest.Suite{
		Type:    "bacnet",
		Factory: New,
		Config: func(t *testing.T) []byte {
			return []byte(fmt.Sprintf(`{%s, "devices": [{"host": "127.0.0.1", "port": %d, "pollPeriod": 100,
				"timeseries": [{"key": "t", "objectType": "analogInput", "objectId": 0}]}]}`, appConfig, port))
		},
		Bad: map[string]string{
			`{"application": {"host": "127.0.0.1"}}`: "objectIdentifier",
			`{"application": {"host": "127.0.0.1", "objectIdentifier": 1}, "devices": [{"address": "1.2.3.4", "timeseries": [{"key": "a", "objectType": "analogue", "objectId": 1}]}]}`:                          "devices[0].timeseries[0].objectType",
			`{"application": {"host": "127.0.0.1", "objectIdentifier": 1}, "devices": [{"address": "1.2.3.4", "attributeUpdates": [{"key": "a", "objectType": "analogOutput", "objectId": 1, "priority": 0}]}]}`: "devices[0].attributeUpdates[0].priority",
			`{"application": {"host": "127.0.0.1", "objectIdentifier": 1, "port": "x"}}`:                                                                                                                         "application.port",
			`{"application": {"host": "127.0.0.1", "objectIdentifier": 1}, "devices": [{"pollPeriod": "fast"}]}`:                                                                                                 "devices[0].pollPeriod",
		},
	})
}
