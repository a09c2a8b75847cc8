package opcua

import (
	"strings"
	"testing"

	"github.com/tbgw/tbgw/drivers/drivertest"
)

// The contract every connector keeps, against the node-opcua test server.
func TestConformance(t *testing.T) {
	ts := startServer(t)
	drivertest.Conformance(t, drivertest.Suite{
		Type:    "opcua",
		Factory: New,
		Config: func(t *testing.T) []byte {
			return []byte(strings.ReplaceAll(`{"server": {"url": "URL", "timeoutInMillis": 10000,
  "reconnectBackoffInitialDelay": 0.2, "pollPeriodInMillis": 100, "enableSubscriptions": false, "identity": {"type": "anonymous"}},
  "mapping": [{"deviceNodePattern": "Root\\.Objects\\.MyObject", "deviceInfo": {"deviceNameExpression": "Demo"},
    "timeseries": [{"key": "t", "type": "path", "value": "${Temperature}"}]}]}`, "URL", ts.url()))
		},
		Bad: map[string]string{
			`{"server": {}}`: "server.url",
			`{"server": {"url": "opc.tcp://127.0.0.1:1", "reconnectBackoffFactor": 0.5}}`:            "server.reconnectBackoffFactor",
			`{"server": {"url": "opc.tcp://127.0.0.1:1"}, "mapping": [{"deviceNodePattern": "(("}]}`: "mapping[0]",
		},
	})
}
