package serial

import (
	"os"
	"sync"
	"testing"

	"github.com/tbgw/tbgw/drivers/drivertest"
	"github.com/tbgw/tbgw/gw/connector"
)

func TestConformance(t *testing.T) {
	var mu sync.Mutex
	var dev *os.File // device side of the latest pty pair
	drivertest.Conformance(t, drivertest.Suite{
		Type:    "serial",
		Factory: New,
		Config: func(t *testing.T) []byte {
			p := newPty(t)
			f, err := os.OpenFile(p.srv, os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { f.Close() })
			mu.Lock()
			dev = f
			mu.Unlock()
			return sample(t, p.cli)
		},
		Trigger: func(t *testing.T) {
			mu.Lock()
			defer mu.Unlock()
			dev.Write([]byte("21.5\rSN-1\n"))
		},
		Bad: map[string]string{
			`{"devices":[]}`:                               "devices",
			`{"devices":[{"parity":"X"}]}`:                 "devices[0].parity",
			`{"devices":[{"telemetry":[{"type":"int"}]}]}`: "devices[0].telemetry[0].key",
			`{"devices":[{"baudrate":"fast"}]}`:            "baudrate",
		},
		RPC: connector.RPC{Device: "SerialDevice1", Method: "getValue"},
	})
}
