package exec

import (
	"encoding/json"
	"os"
	"testing"

	"github.com/tbgw/tbgw/drivers/drivertest"
	"github.com/tbgw/tbgw/gw/connector"
)

func TestConformance(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd, _ := json.Marshal([]string{exe, "-test.run=^$"})
	drivertest.Conformance(t, drivertest.Suite{
		Type:    "exec",
		Factory: New,
		Config: func(t *testing.T) []byte {
			return []byte(`{"command":` + string(cmd) + `,"env":{"TBGW_EXEC_HELPER":"tick"},"stopTimeoutMs":1000,"restartMinMs":100}`)
		},
		Bad: map[string]string{
			`{}`:                                    "command",
			`{"command":[]}`:                        "command",
			`{"command":["x"],"maxLineBytes":10}`:   "maxLineBytes",
			`{"command":["x"],"queueSize":1000000}`: "queueSize",
			`{"command":["x"],"env":{"A=B":"c"}}`:   "env",
		},
		RPC: connector.RPC{Device: "Tick", Method: "x"},
	})
}
