package snmp

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tbgw/tbgw/drivers/drivertest"
	"github.com/tbgw/tbgw/gw/connector"
)

// loadOIDs are 20 scalars every snmpd has.
var loadOIDs = []string{
	"1.3.6.1.2.1.1.1.0", "1.3.6.1.2.1.1.2.0", "1.3.6.1.2.1.1.3.0", "1.3.6.1.2.1.1.4.0", "1.3.6.1.2.1.1.5.0",
	"1.3.6.1.2.1.1.6.0", "1.3.6.1.2.1.1.9.1.2.1", "1.3.6.1.2.1.1.8.0", "1.3.6.1.2.1.2.1.0", "1.3.6.1.2.1.2.2.1.1.1",
	"1.3.6.1.2.1.2.2.1.2.1", "1.3.6.1.2.1.2.2.1.3.1", "1.3.6.1.2.1.2.2.1.4.1", "1.3.6.1.2.1.2.2.1.5.1",
	"1.3.6.1.2.1.2.2.1.7.1", "1.3.6.1.2.1.2.2.1.8.1", "1.3.6.1.2.1.2.2.1.10.1", "1.3.6.1.2.1.2.2.1.11.1",
	"1.3.6.1.2.1.2.2.1.16.1", "1.3.6.1.2.1.2.2.1.17.1",
}

// loadConfig is devices × len(loadOIDs) get datapoints against one agent.
// With separate, each datapoint gets a request of its own (as upstream
// does) instead of one batched GET per device.
func loadConfig(port, devices int, period time.Duration, separate bool, workers int) string {
	var b strings.Builder
	b.WriteString(`{`)
	if workers > 0 {
		fmt.Fprintf(&b, `"workers":%d,`, workers)
	}
	b.WriteString(`"devices":[`)
	for d := range devices {
		if d > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"deviceName":"dev-%03d","ip":"127.0.0.1","port":%d,"pollPeriod":%d,"timeout":5,"telemetry":[`,
			d, port, period.Milliseconds())
		for i, oid := range loadOIDs {
			if i > 0 {
				b.WriteByte(',')
			}
			timeout := ""
			if separate { // distinct timeouts defeat batching
				timeout = fmt.Sprintf(`,"timeout":%g`, 5+float64(i)/1000)
			}
			fmt.Fprintf(&b, `{"key":"k%d","method":"get","oid":%q%s}`, i, oid, timeout)
		}
		b.WriteString(`]}`)
	}
	b.WriteString(`]}`)
	return b.String()
}

// countingSink counts what it is given and keeps nothing.
type countingSink struct {
	data, points, connects, disconnects atomic.Int64
}

func (s *countingSink) Send(_ context.Context, items []connector.Data) error {
	s.data.Add(int64(len(items)))
	for _, d := range items {
		s.points.Add(int64(len(d.Telemetry) + len(d.Attributes)))
	}
	return nil
}
func (s *countingSink) Connect(context.Context, string, string) error { s.connects.Add(1); return nil }
func (s *countingSink) Disconnect(context.Context, string) error      { s.disconnects.Add(1); return nil }
func (s *countingSink) RequestAttributes(context.Context, string, bool, []string) (map[string]any, error) {
	return nil, nil
}
func (s *countingSink) Claim(context.Context, string, string, time.Duration) error { return nil }

// cpuTicks reads utime+stime of a process (clock ticks, 100 per second on
// Linux).
func cpuTicks(t testing.TB, pid string) int64 {
	raw, err := os.ReadFile(filepath.Join("/proc", pid, "stat"))
	if err != nil {
		t.Fatal(err)
	}
	s := string(raw)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	u, _ := strconv.ParseInt(f[11], 10, 64)
	k, _ := strconv.ParseInt(f[12], 10, 64)
	return u + k
}

func procStatus(t testing.TB, key string) string {
	raw, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, key+":"); ok {
			return strings.TrimSpace(v)
		}
	}
	return "?"
}

func fdCount() int {
	es, _ := os.ReadDir("/proc/self/fd")
	return len(es)
}

// TestLoad is the figure of the issue: 500 devices × 20 OIDs every 10 s
// against one local snmpd, with a counting sink. It runs only with
// TBGW_SNMP_LOAD=1 (scripts/bench-snmp.sh); TBGW_SNMP_LOAD_SECONDS sets
// the measured time (default 60), TBGW_SNMP_LOAD_SEPARATE=1 sends one
// request per OID, TBGW_SNMP_LOAD_WORKERS overrides the worker count.
func BenchmarkLoad(b *testing.B) {
	t := b
	seconds := 60
	if s, err := strconv.Atoi(os.Getenv("TBGW_SNMP_LOAD_SECONDS")); err == nil && s > 0 {
		seconds = s
	}
	workers, _ := strconv.Atoi(os.Getenv("TBGW_SNMP_LOAD_WORKERS"))
	separate := os.Getenv("TBGW_SNMP_LOAD_SEPARATE") == "1"
	const devices, period = 500, 10 * time.Second

	a := startAgent(t)
	agentPid := strconv.Itoa(a.cmd.Process.Pid)
	env := drivertest.Env(t, "snmp", "snmp")
	env.Log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	c, err := New([]byte(loadConfig(a.port, devices, period, separate, workers)), env)
	if err != nil {
		t.Fatal(err)
	}
	sink := &countingSink{}
	hwm0 := procStatus(t, "VmHWM")
	debug.FreeOSMemory()
	rss0 := procStatus(t, "VmRSS")
	self := strconv.Itoa(os.Getpid())
	cpu0, agent0, t0 := cpuTicks(t, self), cpuTicks(t, agentPid), time.Now()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx, sink) }()

	maxFDs := 0
	for end := t0.Add(time.Duration(seconds) * time.Second); time.Now().Before(end); {
		time.Sleep(500 * time.Millisecond)
		maxFDs = max(maxFDs, fdCount())
	}
	elapsed := time.Since(t0).Seconds()
	cpu1, agent1 := cpuTicks(t, self), cpuTicks(t, agentPid)
	rss, hwm := procStatus(t, "VmRSS"), procStatus(t, "VmHWM")
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	goroutines := runtime.NumGoroutine()
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	polls := sink.data.Load()
	t.Logf("load: %d devices × %d OIDs every %v, %s requests, %d workers, %.0f s on %d CPUs",
		devices, len(loadOIDs), period, map[bool]string{true: "one per OID", false: "batched"}[separate],
		c.(*Connector).plan.workers, elapsed, runtime.NumCPU())
	t.Logf("load: polls %d (%.1f/s), datapoints %d (%.0f/s), connects %d, disconnects %d",
		polls, float64(polls)/elapsed, sink.points.Load(), float64(sink.points.Load())/elapsed,
		sink.connects.Load(), sink.disconnects.Load())
	t.Logf("load: connector CPU %.2f%% of one core; snmpd CPU %.2f%%",
		float64(cpu1-cpu0)/elapsed, float64(agent1-agent0)/elapsed)
	t.Logf("load: RSS %s after loading the config (peak %s then), %s after polling (peak %s)",
		rss0, hwm0, rss, hwm)
	t.Logf("load: Go heap in use %.1f MB, sys %.1f MB, goroutines %d, open fds max %d",
		float64(ms.HeapInuse)/(1<<20), float64(ms.Sys)/(1<<20), goroutines, maxFDs)
	if want := int64(devices) * int64(elapsed/period.Seconds()); polls < want {
		t.Errorf("only %d polls in %.0f s, want at least %d", polls, elapsed, want)
	}
}

// BenchmarkPoll measures one poll of a device with 20 get datapoints
// against snmpd (batched into one request), conversion included.
func BenchmarkPoll(b *testing.B) {
	benchPoll(b, false)
}

// BenchmarkPollSeparate is BenchmarkPoll with one request per datapoint.
func BenchmarkPollSeparate(b *testing.B) {
	benchPoll(b, true)
}

func benchPoll(b *testing.B, separate bool) {
	a := startAgent(b)
	c, err := New([]byte(loadConfig(a.port, 1, time.Second, separate, 1)), drivertest.Env(b, "snmp", "snmp"))
	if err != nil {
		b.Fatal(err)
	}
	cn := c.(*Connector)
	d := cn.plan.devices[0]
	w := &worker{}
	defer w.socks.close()
	if w.eng, err = getEngine(); err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if err := d.acquire(ctx); err != nil {
			b.Fatal(err)
		}
		data, err := cn.collect(ctx, w, d)
		d.release()
		if err != nil || len(data.Telemetry) != len(loadOIDs) {
			b.Fatalf("%v: %d values", err, len(data.Telemetry))
		}
	}
}
