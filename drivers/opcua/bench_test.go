package opcua

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tbgw/tbgw/gw/connector"
)

// countingSink counts datapoints and records the latency from a point's
// source timestamp to the moment it reaches the sink.
type countingSink struct {
	mu     sync.Mutex
	points int
	lat    []int64 // ms, reset by take
	last   int     // the value of the latest point
}

func (s *countingSink) Send(ctx context.Context, items []connector.Data) error {
	now := time.Now().UnixMilli()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, d := range items {
		for _, p := range d.Telemetry {
			s.points++
			if p.TS > 0 {
				s.lat = append(s.lat, now-p.TS)
			}
			if f, ok := p.Value.(float64); ok {
				s.last = int(f)
			}
		}
	}
	return nil
}

func (s *countingSink) Connect(context.Context, string, string) error              { return nil }
func (s *countingSink) Disconnect(context.Context, string) error                   { return nil }
func (s *countingSink) Claim(context.Context, string, string, time.Duration) error { return nil }
func (s *countingSink) RequestAttributes(context.Context, string, bool, []string) (map[string]any, error) {
	return nil, nil
}

func (s *countingSink) take() (points int, lat []int64, last int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	points, lat, last = s.points, s.lat, s.last
	s.points, s.lat = 0, nil
	return
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// rssKB reads VmRSS or VmHWM from /proc/self/status.
func rssKB(field string) int64 {
	raw, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if strings.HasPrefix(line, field+":") {
			f := strings.Fields(line)
			if len(f) >= 2 {
				n, _ := strconv.ParseInt(f[1], 10, 64)
				return n
			}
		}
	}
	return 0
}

func percentile(sorted []int64, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	return float64(sorted[min(len(sorted)-1, int(float64(len(sorted))*p))])
}

// BenchmarkSubscription10k: 10 000 monitored items on the node-opcua test
// server, every one changing once a second; the connector streams them to
// a counting sink. Each iteration measures a 10 s window after warm-up and
// reports the connector's CPU (percent of one core), RSS and the latency
// from source timestamp to Send. Run it with scripts/bench-opcua.sh.
func BenchmarkSubscription10k(b *testing.B) {
	const n = 10000
	ts := startServer(b, "--bench", strconv.Itoa(n))
	var sb strings.Builder
	sb.WriteString(`{"server": {"url": "` + ts.url() + `", "timeoutInMillis": 10000, "subCheckPeriodInMillis": 100},
  "mapping": [{"deviceNodePattern": "Root\\.Objects\\.Bench", "deviceInfo": {"deviceNameExpression": "Bench"}, "timeseries": [`)
	for i := 0; i < n; i++ {
		if i > 0 {
			sb.WriteByte(',')
		}
		fmt.Fprintf(&sb, `{"key": "v%d", "type": "path", "value": "${V%d}", "timestampLocation": "sourceTimestamp"}`, i, i)
	}
	sb.WriteString("]}]}")
	env := connector.Env{Name: "bench", Type: "opcua", Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: time.Now, DataDir: b.TempDir()}
	if testing.Verbose() {
		env.Log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	c, err := New([]byte(sb.String()), env)
	if err != nil {
		b.Fatal(err)
	}
	sink := &countingSink{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx, sink) }()
	defer func() {
		cancel()
		<-done
	}()

	// Warm up: every item monitored and a few full rounds delivered.
	deadline := time.Now().Add(120 * time.Second)
	for rounds := 0; rounds < 3; {
		if time.Now().After(deadline) {
			b.Fatal("no steady data flow after 120 s")
		}
		time.Sleep(time.Second)
		if p, _, _ := sink.take(); p >= n*9/10 {
			rounds++
		}
	}
	const window = 10 * time.Second
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		sink.take()
		cpu0, t0 := cpuTime(), time.Now()
		time.Sleep(window)
		cpu1, t1 := cpuTime(), time.Now()
		points, lat, _ := sink.take()
		sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
		elapsed := t1.Sub(t0).Seconds()
		b.ReportMetric(100*(cpu1-cpu0).Seconds()/elapsed, "cpu%")
		b.ReportMetric(float64(points)/elapsed, "points/s")
		b.ReportMetric(float64(rssKB("VmRSS"))/1024, "rss_MB")
		b.ReportMetric(float64(rssKB("VmHWM"))/1024, "peak_rss_MB")
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		b.ReportMetric(float64(ms.HeapInuse)/(1<<20), "heap_MB")
		b.ReportMetric(percentile(lat, 0.5), "p50_ms")
		b.ReportMetric(percentile(lat, 0.99), "p99_ms")
		b.ReportMetric(percentile(lat, 1), "max_ms")
	}
}
