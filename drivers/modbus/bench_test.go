package modbus

import (
	"github.com/tbgw/tbgw/drivers/kit"

	"context"
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/tbgw/tbgw/drivers/drivertest"
	"github.com/tbgw/tbgw/gw/connector"
)

// countingSink counts what it is given and keeps nothing.
type countingSink struct {
	items, points, connects, disconnects atomic.Int64
}

func (s *countingSink) Send(_ context.Context, items []connector.Data) error {
	s.items.Add(int64(len(items)))
	for _, d := range items {
		s.points.Add(int64(len(d.Attributes) + len(d.Telemetry)))
	}
	return nil
}
func (s *countingSink) Connect(context.Context, string, string) error { s.connects.Add(1); return nil }
func (s *countingSink) Disconnect(context.Context, string) error      { s.disconnects.Add(1); return nil }
func (s *countingSink) RequestAttributes(context.Context, string, bool, []string) (map[string]any, error) {
	return nil, nil
}
func (s *countingSink) Claim(context.Context, string, string, time.Duration) error { return nil }

// slaveConfigs returns n devices of 100 16-bit registers each.
func slaveConfigs(n int, conn cfgMap) []any {
	var out []any
	for i := range n {
		var tags []any
		for a := range 100 {
			tags = append(tags, cfgMap{"tag": fmt.Sprintf("r%d", a), "type": "16uint", "functionCode": 3, "address": a})
		}
		s := cfgMap{"unitId": 1 + i%247, "deviceName": fmt.Sprintf("dev%03d", i), "pollPeriod": 1000,
			"byteOrder": "BIG", "wordOrder": "BIG", "timeout": 3, "timeseries": tags}
		for k, v := range conn {
			s[k] = v
		}
		out = append(out, s)
	}
	return out
}

// BenchmarkPollCycle is one poll of a device with 100 registers against
// the in-process slave section: planning, request and response codec,
// decoding and conversion of 100 datapoints, without network.
func BenchmarkPollCycle(b *testing.B) {
	var hr []any
	for a := range 100 {
		hr = append(hr, cfgMap{"address": a, "type": "16uint", "tag": fmt.Sprintf("r%d", a), "objectsCount": 1, "value": a})
	}
	c := newConnector(b, cfgMap{"slave": cfgMap{"type": "tcp", "host": "127.0.0.1", "port": 0, "method": "socket",
		"sendDataToThingsBoard": true, "pollPeriod": 1000, "byteOrder": "BIG", "wordOrder": "BIG",
		"values": cfgMap{"holding_registers": cfgMap{"timeseries": hr}}}})
	d := c.devices[0]
	sink := &countingSink{}
	out := kit.NewSender(sink, nil)
	ctx := context.Background()
	d.poll(ctx, out)
	b.ReportAllocs()
	for b.Loop() {
		d.poll(ctx, out)
	}
	if sink.points.Load() < 100 {
		b.Fatal("no data")
	}
	b.ReportMetric(float64(c.Requests())/float64(b.N+1), "requests/poll")
}

// procStat returns user+system CPU time and the resident set size.
func procStat() (cpu time.Duration, rss, hwm int64) {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	cpu = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	b, _ := os.ReadFile("/proc/self/status")
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) >= 2 {
			v, _ := strconv.ParseInt(f[1], 10, 64)
			switch f[0] {
			case "VmRSS:":
				rss = v
			case "VmHWM:":
				hwm = v
			}
		}
	}
	return
}

// TestPollingFigure measures the connector polling 100 slaves x 100
// registers every second over TCP against the libmodbus slave (a separate
// process): requests per cycle, CPU and memory of this process. It is a benchmark
// (scripts/bench-modbus.sh runs it once);
// TBGW_BENCH_SECONDS sets the duration (default 20).
func BenchmarkPollingFigure(b *testing.B) {
	t := b
	secs := 20
	if s, err := strconv.Atoi(os.Getenv("TBGW_BENCH_SECONDS")); err == nil && s > 0 {
		secs = s
	}
	p := startLibmodbus(t, "tcp", "0")
	env := drivertest.Env(t, "Modbus", "modbus")
	env.Log = nil // quiet
	raw := fmt.Sprintf(`{"master":{"slaves":%s}}`, mustJSON(t, slaveConfigs(100, cfgMap{"host": "127.0.0.1", "port": p.port, "type": "tcp", "method": "socket"})))
	cc, err := New([]byte(raw), env)
	if err != nil {
		t.Fatal(err)
	}
	c := cc.(*Connector)
	sink := &countingSink{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx, sink) }()
	defer func() {
		cancel()
		<-done
	}()
	// Warm up two cycles, then measure.
	time.Sleep(2 * time.Second)
	runtime.GC()
	cpu0, _, _ := procStat()
	req0, pts0 := c.Requests(), sink.points.Load()
	start := time.Now()
	var maxRSS int64
	for range secs {
		time.Sleep(time.Second)
		_, rss, _ := procStat()
		maxRSS = max(maxRSS, rss)
	}
	wall := time.Since(start)
	cpu1, rss, hwm := procStat()
	reqs, pts := c.Requests()-req0, sink.points.Load()-pts0
	cycles := wall.Seconds()
	t.Logf("100 slaves x 100 registers, pollPeriod 1 s, TCP to the libmodbus slave, %v", wall.Round(time.Millisecond))
	planned := 0
	for _, d := range c.devices {
		planned += len(d.blocks)
	}
	t.Logf("requests per cycle: %d planned; %.1f per second measured (%d requests)", planned, float64(reqs)/cycles, reqs)
	t.Logf("datapoints per second: %.0f", float64(pts)/wall.Seconds())
	t.Logf("CPU: %.2f %% of one core (%.2f %% of %d cores)", 100*(cpu1-cpu0).Seconds()/wall.Seconds(),
		100*(cpu1-cpu0).Seconds()/wall.Seconds()/float64(runtime.NumCPU()), runtime.NumCPU())
	t.Logf("RSS: %d kB now, %d kB max sampled, %d kB peak (VmHWM)", rss, maxRSS, hwm)
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	t.Logf("Go heap in use: %d kB, goroutines: %d", ms.HeapInuse/1024, runtime.NumGoroutine())
	if sink.disconnects.Load() != 0 {
		t.Errorf("%d disconnects during the run", sink.disconnects.Load())
	}
}

func mustJSON(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
