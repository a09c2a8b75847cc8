package ocpp

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/tbgw/tbgw/drivers/drivertest"
)

// TestLimits: the connection limit refuses the charger over it, a message
// above maxMessageSize closes its connection, and a charger that stops
// answering pings is disconnected.
func TestLimits(t *testing.T) {
	cfg := sampleWith(t, func(m map[string]any) {
		cs := m["centralSystem"].(map[string]any)
		delete(cs, "security")
		cs["maxConnections"], cs["maxMessageSize"], cs["pingInterval"], cs["pongTimeout"] = 2, 1024, 0.2, 0.3
		m["chargePoints"] = []any{map[string]any{"idRegexpPattern": "L"}}
	})
	c, _ := start(t, cfg, drivertest.NewSink())
	d := websocket.Dialer{Subprotocols: []string{"ocpp1.6"}, HandshakeTimeout: 5 * time.Second}
	dial := func(id string) (*websocket.Conn, *http.Response, error) {
		return d.Dial(fmt.Sprintf("ws://%s/%s", c.ListenAddr(), id), nil)
	}
	big, _, err := dial("L1")
	if err != nil {
		t.Fatal(err)
	}
	defer big.Close()
	silent, _, err := dial("L2")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	if _, resp, err := dial("L3"); err == nil || resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("third charger: %v %v", resp, err)
	}
	// L1 keeps reading (so it answers pings) and sends one oversized message.
	closed := make(chan error, 1)
	go func() {
		for {
			if _, _, err := big.ReadMessage(); err != nil {
				closed <- err
				return
			}
		}
	}()
	msg := `[2,"1","DataTransfer",{"vendorId":"v","data":"` + strings.Repeat("x", 2000) + `"}]`
	if err := big.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-closed:
		t.Logf("oversized message: connection closed (%v)", err)
	case <-time.After(10 * time.Second):
		t.Fatal("oversized message did not close the connection")
	}
	// L2 never reads, so never answers a ping: it is dropped.
	drivertest.Eventually(t, 10*time.Second, "silent charger dropped", func() bool { return c.Stats()["chargePointsConnected"] == 0 })
	// There is room again.
	again, _, err := dial("L3")
	if err != nil {
		t.Fatalf("after the drops: %v", err)
	}
	again.Close()
}
