package bacnet

import (
	"context"
	"fmt"
	"github.com/tbgw/tbgw/drivers/drivertest"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/tbgw/tbgw/gw/connector"
)

// countSink counts datapoints and drops them.
type countSink struct{ points atomic.Uint64 }

func (s *countSink) Send(ctx context.Context, items []connector.Data) error {
	for _, d := range items {
		s.points.Add(uint64(len(d.Attributes) + len(d.Telemetry)))
	}
	return nil
}
func (s *countSink) Connect(context.Context, string, string) error { return nil }
func (s *countSink) Disconnect(context.Context, string) error      { return nil }
func (s *countSink) RequestAttributes(context.Context, string, bool, []string) (map[string]any, error) {
	return nil, nil
}
func (s *countSink) Claim(context.Context, string, string, time.Duration) error { return nil }

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func rssKB() int {
	b, _ := os.ReadFile("/proc/self/status")
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmRSS:") {
			v, _ := strconv.Atoi(strings.Fields(l)[1])
			return v
		}
	}
	return 0
}

// benchDevices starts n peer devices with objs analog inputs each and
// returns a config polling all of them (key ${objectName}: objectName and
// presentValue of every object, 2 properties per object).
func benchDevices(b *testing.B, n, objs, changeMs int, cov bool, pollMs int) string {
	pc := peerConfig{ChangeMs: changeMs}
	var devs []string
	for i := range n {
		port := freeUDPPort(b)
		pc.Devices = append(pc.Devices, peerDevice{Port: port, Instance: 10000 + i, Name: fmt.Sprintf("D%02d", i), AnalogInputs: objs})
		devs = append(devs, fmt.Sprintf(`{"host": "127.0.0.1", "port": %d, "pollPeriod": %d, "cov": %v,
			"timeseries": [{"key": "${objectName}", "objectType": "analogInput", "objectId": "0-%d", "propertyId": "presentValue"}]}`, port, pollMs, cov, objs-1))
	}
	startPeer(b, pc)
	return fmt.Sprintf(`{%s, "workers": 16, "devices": [%s]}`, appConfig, strings.Join(devs, ","))
}

// BenchmarkPoll50x100 polls 50 devices of 100 objects each through
// ReadPropertyMultiple; one op is one full cycle (every device polled
// once). It reports points/s, requests per cycle, the connector's CPU per
// cycle and the process RSS. The peer (node) shares the machine.
func BenchmarkPoll50x100(b *testing.B) {
	const devices, objs = 50, 100
	cfg := benchDevices(b, devices, objs, 0, false, 10)
	c := quietConnector(b, cfg)
	sink := &countSink{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx, sink) }()
	defer func() { cancel(); <-done }()
	// Warm up: every device found and polled once.
	deadline := time.Now().Add(60 * time.Second)
	for c.Stats()["devices"] < devices || sink.points.Load() < devices*objs {
		if time.Now().After(deadline) {
			b.Fatalf("warm-up: %v", c.Stats())
		}
		time.Sleep(50 * time.Millisecond)
	}
	polls0, req0, pts0, cpu0 := c.Stats()["polls"], c.Stats()["requests"], sink.points.Load(), cpuTime()
	b.ResetTimer()
	start := time.Now()
	want := polls0 + uint64(b.N*devices)
	for c.Stats()["polls"] < want {
		time.Sleep(2 * time.Millisecond)
	}
	el := time.Since(start)
	b.StopTimer()
	st := c.Stats()
	cycles := float64(st["polls"]-polls0) / devices
	b.ReportMetric(float64(sink.points.Load()-pts0)/el.Seconds(), "points/s")
	b.ReportMetric(float64(st["requests"]-req0)/cycles, "requests/cycle")
	b.ReportMetric(float64((cpuTime()-cpu0).Milliseconds())/cycles, "cpu-ms/cycle")
	b.ReportMetric(float64(rssKB())/1024, "RSS-MB")
}

// BenchmarkCOV: 10 devices of 100 objects whose values change every 50 ms,
// all subscribed; reports the COV notifications handled per second (the
// node peer is the limit on this machine).
func BenchmarkCOV(b *testing.B) {
	const devices, objs = 10, 100
	cfg := benchDevices(b, devices, objs, 50, true, 60000)
	c := quietConnector(b, cfg)
	sink := &countSink{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx, sink) }()
	defer func() { cancel(); <-done }()
	deadline := time.Now().Add(60 * time.Second)
	for c.Stats()["covSubscriptions"] < devices*objs {
		if time.Now().After(deadline) {
			b.Fatalf("warm-up: %v", c.Stats())
		}
		time.Sleep(50 * time.Millisecond)
	}
	n0, cpu0 := c.Stats()["covNotifications"], cpuTime()
	b.ResetTimer()
	start := time.Now()
	for c.Stats()["covNotifications"] < n0+uint64(b.N)*1000 {
		time.Sleep(2 * time.Millisecond)
	}
	el := time.Since(start)
	b.StopTimer()
	n := c.Stats()["covNotifications"] - n0
	b.ReportMetric(float64(n)/el.Seconds(), "notifications/s")
	b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(n), "cpu-µs/notification")
	b.ReportMetric(float64(rssKB())/1024, "RSS-MB")
}

func quietConnector(b *testing.B, cfg string) *Connector {
	env := drivertest.Env(b, "bacnet", "bacnet")
	env.Log = slog.New(slog.DiscardHandler)
	c, err := New([]byte(cfg), env)
	if err != nil {
		b.Fatal(err)
	}
	return c.(*Connector)
}
