package request

import (
	"context"
	"sync/atomic"

	"encoding/pem"
	"github.com/tbgw/tbgw/drivers/drivertest"
	"github.com/tbgw/tbgw/gw/connector"
	"net/http/httptest"
	"os"
	"testing"
)

func writeCert(t *testing.T, path string, srv *httptest.Server) {
	t.Helper()
	b := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// countSink counts what it is given and stores nothing.
type countSink struct {
	drivertest.Sink
	items atomic.Int64
}

func (s *countSink) Send(_ context.Context, items []connector.Data) error {
	s.items.Add(int64(len(items)))
	return nil
}
