package request

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/tbgw/tbgw/drivers/drivertest"
)

func TestConformance(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"name":"conf","v":1}`)
	}))
	t.Cleanup(srv.Close)
	drivertest.Conformance(t, drivertest.Suite{
		Type:    "request",
		Factory: New,
		Config:  func(t *testing.T) []byte { return endpointConfig(srv.URL, "/x") },
		Bad: map[string]string{
			`{"mapping":[{"url":"x","converter":{"type":"json"}}]}`:                                                            "host",
			`{"host":"h","mapping":[{"url":"x","scanPeriod":-1,"converter":{"type":"json","deviceNameJsonExpression":"d"}}]}`:  "mapping[0].scanPeriod",
			`{"host":"h","serverSideRpc":[{"methodFilter":"echo","requestUrlExpression":"x","tries":0}]}`:                      "serverSideRpc[0].tries",
			`{"host":"h","mapping":[{"url":"x","timeout":"soon","converter":{"type":"json","deviceNameJsonExpression":"d"}}]}`: "mapping[0].timeout",
		},
	})
}
