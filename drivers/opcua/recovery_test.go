package opcua

import (
	"context"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/tbgw/tbgw/drivers/drivertest"
	"github.com/tbgw/tbgw/gw/connector"
)

func TestServerRestartAndSessionLoss(t *testing.T) {
	ts := startServer(t)
	c, _ := newTestConnector(t, ts, allTypesConfig)
	sink := drivertest.NewSink()
	drivertest.Run(t, c, sink)
	const dev = "Demo Device"
	waitFlow := func(what string) {
		t.Helper()
		n := len(sink.Data())
		sink.Wait(t, 60*time.Second, what, func(data []connector.Data) bool {
			k := 0
			for _, d := range data[n:] {
				for _, p := range d.Telemetry {
					if p.Key == "temperature" {
						k++
					}
				}
			}
			return k >= 3
		})
	}
	waitFlow("data before restart")

	ts.restart()
	waitFlow("data after the server restart")
	// The restarted server starts its clock over: the connector reads the
	// new server, not stale values.
	if v, _ := sink.Latest(dev, "temperature", false); v.(float64) > 30 {
		t.Errorf("temperature %v after restart", v)
	}

	ts.command("drop-sessions")
	waitFlow("data after the session was dropped")

	// The server goes away for a while, then comes back.
	ts.kill()
	deadline := time.Now().Add(30 * time.Second)
	for s, _ := c.current(dev); s != nil; s, _ = c.current(dev) {
		if time.Now().After(deadline) {
			t.Fatal("the connector did not notice the server going away")
		}
		time.Sleep(20 * time.Millisecond)
	}
	ts.start()
	waitFlow("data after an outage")
}

func TestBadStatusNode(t *testing.T) {
	ts := startServer(t)
	cfg := `{
  "server": {"url": "URL", "timeoutInMillis": 10000, "reconnectBackoffInitialDelay": 0.2},
  "mapping": [{"deviceNodePattern": "Root\\.Objects\\.MyObject",
    "deviceInfo": {"deviceNameExpression": "Demo"},
    "attributes_updates": [{"key": "bad", "type": "path", "value": "${FlakyBad}"}],
    "timeseries": [{"key": "flaky", "type": "path", "value": "${Flaky}"},
                   {"key": "temperature", "type": "path", "value": "${Temperature}"}]}]
}`
	c, _ := newTestConnector(t, ts, cfg)
	sink := drivertest.NewSink()
	drivertest.Run(t, c, sink)
	sink.Wait(t, 30*time.Second, "flaky values", func(data []connector.Data) bool {
		v, ok := drivertest.Latest(data, "Demo", "flaky", false)
		_, isInt := v.(int64)
		return ok && isInt
	})
	if err := c.OnAttributes(context.Background(), "Demo", map[string]any{"bad": true}); err != nil {
		t.Fatal(err)
	}
	sink.Wait(t, 30*time.Second, "bad status value", func(data []connector.Data) bool {
		v, _ := drivertest.Latest(data, "Demo", "flaky", false)
		s, _ := v.(string)
		return strings.HasPrefix(s, "Bad status code: BadCommunicationError for node: ns=1;s=MyObject.Flaky with description")
	})
	n := len(sink.Data())
	sink.Wait(t, 30*time.Second, "other keys keep flowing", func(data []connector.Data) bool {
		_, ok := drivertest.Latest(data[n:], "Demo", "temperature", false)
		return ok
	})
	if err := c.OnAttributes(context.Background(), "Demo", map[string]any{"bad": false}); err != nil {
		t.Fatal(err)
	}
	sink.Wait(t, 30*time.Second, "good values again", func(data []connector.Data) bool {
		v, _ := drivertest.Latest(data, "Demo", "flaky", false)
		_, isInt := v.(int64)
		return isInt
	})
}

// TestSubscriptionDroppedByServer: the server deletes the subscription but
// keeps the session (as when a subscription outlives its lifetime); the
// silence watchdog re-creates it.
func TestSubscriptionDroppedByServer(t *testing.T) {
	ts := startServer(t)
	cfg := strings.Replace(allTypesConfig, `"subCheckPeriodInMillis": 100,`, `"subCheckPeriodInMillis": 100, "subKeepAlivePeriodInSeconds": 2,`, 1)
	c, _ := newTestConnector(t, ts, cfg)
	sink := drivertest.NewSink()
	drivertest.Run(t, c, sink)
	waitTemperatures(t, sink, "data before the subscription is dropped")
	ts.command("drop-subscriptions")
	waitTemperatures(t, sink, "data after the subscription was dropped")
}

// TestLateNode: a node that appears after the first scan is picked up by a
// later scan.
func TestLateNode(t *testing.T) {
	ts := startServer(t)
	cfg := `{
  "server": {"url": "URL", "timeoutInMillis": 10000, "scanPeriodInMillis": 500},
  "mapping": [{"deviceNodePattern": "Root\\.Objects\\.MyObject", "deviceInfo": {"deviceNameExpression": "Demo"},
    "timeseries": [{"key": "late", "type": "path", "value": "${Late}"},
                   {"key": "temperature", "type": "path", "value": "${Temperature}"}]}]
}`
	c, _ := newTestConnector(t, ts, cfg)
	sink := drivertest.NewSink()
	drivertest.Run(t, c, sink)
	sink.Wait(t, 30*time.Second, "temperature", func(data []connector.Data) bool {
		_, ok := drivertest.Latest(data, "Demo", "temperature", false)
		return ok
	})
	if _, ok := sink.Latest("Demo", "late", false); ok {
		t.Fatal("value of a node that does not exist yet")
	}
	ts.command("add-late")
	sink.Wait(t, 30*time.Second, "the late node", func(data []connector.Data) bool {
		v, _ := drivertest.Latest(data, "Demo", "late", false)
		return v == int64(99)
	})
}

// waitTemperatures waits for three new temperature values.
func waitTemperatures(t *testing.T, sink *drivertest.Sink, what string) {
	t.Helper()
	n := len(sink.Data())
	sink.Wait(t, 60*time.Second, what, func(data []connector.Data) bool {
		k := 0
		for _, d := range data[n:] {
			for _, p := range d.Telemetry {
				if p.Key == "temperature" {
					k++
				}
			}
		}
		return k >= 3
	})
}

// TestNoGoroutineLeak: after Run returns, the goroutines it started (and
// the client library's) are gone.
func TestNoGoroutineLeak(t *testing.T) {
	ts := startServer(t)
	before := runtime.NumGoroutine()
	c, _ := newTestConnector(t, ts, allTypesConfig)
	sink := drivertest.NewSink()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx, sink) }()
	waitTemperatures(t, sink, "data")
	ts.command("drop-sessions")
	waitTemperatures(t, sink, "data after a reconnect")
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines before, %d after:\n%s", before, runtime.NumGoroutine(), buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(50 * time.Millisecond)
	}
}
