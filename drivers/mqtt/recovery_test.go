package mqtt

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/tbgw/tbgw/drivers/drivertest"
	"github.com/tbgw/tbgw/gw/connector"
)

func persistentBroker(m *mosquitto, v int, id string) string {
	return fmt.Sprintf(`{"host":"127.0.0.1","port":%d,"clientId":%q,"version":%d,"keepAlive":5,
		"cleanSession":false,"cleanStart":false,"sessionExpiryInterval":300,"security":{"type":"anonymous"}}`, m.port, id, v)
}

const testMapping = `"mapping":[{"topicFilter":"dev/+/up","subscriptionQos":1,"converter":{"type":"custom","extension":"TestUplink"}}]`

// runFor runs c until the returned stop function is called.
func runFor(t *testing.T, c *Connector, sink connector.Sink) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx, sink) }()
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("connector did not stop")
		}
	}
	t.Cleanup(stop)
	drivertest.Eventually(t, 15*time.Second, "connected", c.Connected)
	return stop
}

func values(data []connector.Data, device string) []any {
	var out []any
	for _, d := range data {
		if d.Device == device {
			for _, p := range d.Telemetry {
				out = append(out, p.Value)
			}
		}
	}
	return out
}

// A message whose Send failed is not acknowledged, so the broker delivers
// it again to the next session; a stored one is not delivered twice.
func TestAckAfterStore(t *testing.T) {
	forVersions(t, func(t *testing.T, v int) {
		m := startMosquitto(t)
		id := fmt.Sprintf("tbgw-ack-%d-%d", v, time.Now().UnixNano()%1e6)
		cfg := `{"broker":` + persistentBroker(m, v, id) + `,` + testMapping + `}`
		dev := newDevClient(t, m.addr())

		// Session 1: storage fails, the message stays unacknowledged.
		sink1 := newRecSink()
		sink1.setFail(errors.New("disk full"))
		c1, err := newConnector([]byte(cfg), drivertest.Env(t, "mqtt", "mqtt"))
		if err != nil {
			t.Fatal(err)
		}
		stop1 := runFor(t, c1, sink1)
		dev.pub("dev/D/up", 1, `{"device":"D","v":1}`)
		drivertest.Eventually(t, 10*time.Second, "failed store", func() bool { return c1.Counters().StoreErrors.Load() > 0 })
		stop1()

		// Session 2: the broker delivers it again; it is stored and acked.
		sink2 := newRecSink()
		c2, _ := newConnector([]byte(cfg), drivertest.Env(t, "mqtt", "mqtt"))
		stop2 := runFor(t, c2, sink2)
		sink2.Wait(t, 10*time.Second, "redelivered message", func(d []connector.Data) bool { return len(values(d, "D")) >= 1 })
		dev.pub("dev/D/up", 1, `{"device":"D","v":2}`)
		sink2.Wait(t, 10*time.Second, "second message", func(d []connector.Data) bool { return len(values(d, "D")) >= 2 })
		stop2()
		if got := fmt.Sprint(values(sink2.Data(), "D")); got != "[1 2]" {
			t.Errorf("session 2 got %s", got)
		}

		// Session 3: nothing is redelivered; a new message arrives alone.
		sink3 := newRecSink()
		c3, _ := newConnector([]byte(cfg), drivertest.Env(t, "mqtt", "mqtt"))
		runFor(t, c3, sink3)
		dev.pub("dev/D/up", 1, `{"device":"D","v":3}`)
		sink3.Wait(t, 10*time.Second, "third message", func(d []connector.Data) bool { return len(values(d, "D")) >= 1 })
		if got := fmt.Sprint(values(sink3.Data(), "D")); got != "[3]" {
			t.Errorf("session 3 got %s (acknowledged messages redelivered?)", got)
		}
	})
}

// The connector reconnects after a broker restart, subscribes again and
// keeps serving both directions.
func TestBrokerRestart(t *testing.T) {
	forVersions(t, func(t *testing.T, v int) {
		m := startMosquitto(t)
		cfg := `{"broker":` + brokerJSON(m, v, "") + `,` + testMapping + `,"requestsMapping":{"attributeUpdates":[
			{"deviceNameFilter":".*","attributeFilter":".*","topicExpression":"dev/${deviceName}/attr","valueExpression":"${attributeValue}","qos":1}]}}`
		sink := newRecSink()
		c := startConn(t, cfg, sink)
		dev := newDevClient(t, m.addr())
		dev.pub("dev/D/up", 1, `{"device":"D","v":1}`)
		sink.Wait(t, 10*time.Second, "first message", func(d []connector.Data) bool { return len(values(d, "D")) == 1 })

		m.restart()
		drivertest.Eventually(t, 30*time.Second, "reconnect", func() bool { return c.Counters().Connects.Load() >= 2 && c.Connected() })
		// The device client reconnects by itself; retry until it is back.
		drivertest.Eventually(t, 30*time.Second, "device client back", func() bool { return dev.c.IsConnectionOpen() })
		dev.sub("dev/+/attr")
		dev.pub("dev/D/up", 1, `{"device":"D","v":2}`)
		sink.Wait(t, 10*time.Second, "message after restart", func(d []connector.Data) bool { return len(values(d, "D")) == 2 })
		if err := c.OnAttributes(context.Background(), "D", map[string]any{"x": 5.0}); err != nil {
			t.Fatal(err)
		}
		if msg := dev.next(10 * time.Second); msg.Topic() != "dev/D/attr" || string(msg.Payload()) != "5" {
			t.Errorf("attribute after restart: %s %s", msg.Topic(), msg.Payload())
		}
	})
}

// Run returns promptly on cancel and leaves no goroutine behind, also
// while the broker is unreachable.
func TestRunStopsCleanly(t *testing.T) {
	m := startMosquitto(t)
	base := runtime.NumGoroutine()
	for _, v := range versions {
		cfg := `{"broker":` + brokerJSON(m, v, "") + `,` + testMapping + `}`
		c, err := newConnector([]byte(cfg), drivertest.Env(t, "mqtt", "mqtt"))
		if err != nil {
			t.Fatal(err)
		}
		stop := runFor(t, c, newRecSink())
		stop()
	}
	// Unreachable broker: stuck in the reconnect loop.
	cfg := `{"broker":{"host":"127.0.0.1","port":` + fmt.Sprint(drivertest.FreePort(t)) + `},` + testMapping + `}`
	c, _ := newConnector([]byte(cfg), drivertest.Env(t, "mqtt", "mqtt"))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx, newRecSink()) }()
	drivertest.Eventually(t, 10*time.Second, "a failed attempt", func() bool { return c.Counters().ConnectErrs.Load() > 0 })
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return")
	}
	drivertest.Eventually(t, 10*time.Second, "goroutines to exit", func() bool { return runtime.NumGoroutine() <= base+2 })
}
