package rest

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/tbgw/tbgw/drivers/drivertest"
)

func TestConformance(t *testing.T) {
	var port int
	drivertest.Conformance(t, drivertest.Suite{
		Type:    "rest",
		Factory: New,
		Config: func(t *testing.T) []byte {
			port = drivertest.FreePort(t)
			return []byte(strings.Replace(strings.Replace(basicCfg, `"port":0`, fmt.Sprintf(`"port":%d`, port), 1),
				`"security":{"type":"basic","username":"u","password":"p"},`, "", 1))
		},
		Trigger: func(t *testing.T) {
			resp, err := http.Post(fmt.Sprintf("http://127.0.0.1:%d/secure", port), "application/json", strings.NewReader(`{"v":1}`))
			if err == nil {
				resp.Body.Close()
			}
		},
		Bad: map[string]string{
			`{"server":{"port":0},"mapping":[{"endpoint":"/a","converter":{"type":"json"}}]}`:                                                  "mapping[0].HTTPMethods",
			`{"server":{"port":"x"},"mapping":[]}`:                                                                                             "server.port",
			`{"server":{"port":0},"mapping":[{"endpoint":"a","HTTPMethods":["POST"],"converter":{"type":"json","deviceNameExpression":"d"}}]}`: "mapping[0].endpoint",
			`{"server":{"port":0},"requestsMapping":{"serverSideRpc":[{"methodFilter":"(","requestUrlExpression":"http://x"}]}}`:               "requestsMapping.serverSideRpc[0].methodFilter",
			`{"server":{"port":0},"mapping":[{"endpoint":"/a","HTTPMethods":["POST"],"response":{"timeout":-1},"converter":{"type":"json"}}]}`: "mapping[0].response.timeout",
		},
	})
}
