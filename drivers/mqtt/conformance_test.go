package mqtt

import (
	"testing"

	"github.com/tbgw/tbgw/drivers/drivertest"
)

// The contract every connector keeps, against a real mosquitto. MQTT is a
// source that can refuse: while storage is full the messages stay
// unacknowledged and are stored once there is room.
func TestConformance(t *testing.T) {
	m := startMosquitto(t)
	dev := newDevClient(t, m.addr())
	drivertest.Conformance(t, drivertest.Suite{
		Type:    "mqtt",
		Factory: New,
		Config: func(t *testing.T) []byte {
			return []byte(`{"broker":` + brokerJSON(m, 4, "") + `,"mapping":[
				{"topicFilter":"conf/+","converter":{"type":"json",
				 "deviceInfo":{"deviceNameExpressionSource":"topic","deviceNameExpression":"conf/(.*)"},
				 "timeseries":[{"type":"int","key":"n","value":"${n}"}]}}]}`)
		},
		Trigger: func(t *testing.T) { dev.pub("conf/D", 1, `{"n": 1}`) },
		Bad: map[string]string{
			`{"broker":{"host":"h","port":"x"}}`:                                                   "broker.port",
			`{"broker":{"host":"h","version":9}}`:                                                  "broker.version",
			`{"broker":{"host":"h","security":{"type":"certificates","pathToCACert":"nope.pem"}}}`: "broker.security",
		},
	})
}
