package socket

import (
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/tbgw/tbgw/drivers/drivertest"
)

func TestConformance(t *testing.T) {
	var port int
	drivertest.Conformance(t, drivertest.Suite{
		Type:    "socket",
		Factory: New,
		Config: func(t *testing.T) []byte {
			port = drivertest.FreePort(t)
			return fmt.Appendf(nil, `{"socket":{"type":"TCP","address":"127.0.0.1","port":%d},
			  "devices":[{"address":"*:*","deviceName":"D","telemetry":[{"key":"m","byteFrom":0,"byteTo":-1}]}]}`, port)
		},
		Trigger: func(t *testing.T) {
			conn, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second)
			if err == nil {
				conn.Write([]byte("x"))
				conn.Close()
			}
		},
		Bad: map[string]string{
			`{"socket":{"type":"SCTP"},"devices":[{"address":"*","deviceName":"d"}]}`:                                  "socket.type",
			`{"socket":{"port":70000},"devices":[{"address":"*","deviceName":"d"}]}`:                                   "socket.port",
			`{"socket":{},"devices":[{"address":"*"}]}`:                                                                "devices[0].deviceName",
			`{"socket":{},"devices":[{"address":"*","deviceName":"d","serverSideRpc":[{"methodProcessing":"read"}]}]}`: "devices[0].serverSideRpc[0].methodRPC",
		},
	})
}
