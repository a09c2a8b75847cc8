package mqtt

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/metrics"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/tbgw/tbgw/drivers/drivertest"
	"github.com/tbgw/tbgw/gw/connector"
)

// countSink counts what it is given and stores nothing.
type countSink struct {
	msgs, points atomic.Int64
	sends        atomic.Int64
}

func (s *countSink) Send(_ context.Context, items []connector.Data) error {
	s.sends.Add(1)
	s.msgs.Add(int64(len(items)))
	n := 0
	for i := range items {
		n += len(items[i].Attributes) + len(items[i].Telemetry)
	}
	s.points.Add(int64(n))
	return nil
}
func (s *countSink) Connect(context.Context, string, string) error              { return nil }
func (s *countSink) Disconnect(context.Context, string) error                   { return nil }
func (s *countSink) Claim(context.Context, string, string, time.Duration) error { return nil }
func (s *countSink) RequestAttributes(context.Context, string, bool, []string) (map[string]any, error) {
	return nil, nil
}

const benchPayload = `{"temperature":21.5,"humidity":40.2,"pressure":1013.25,"co2":412,"battery":97,"rssi":-61}`

const benchMapping = `"mapping":[{"topicFilter":"sensor/+/data","subscriptionQos":1,"converter":{"type":"json",
  "deviceInfo":{"deviceNameExpressionSource":"topic","deviceNameExpression":"(?<=sensor/)(.*?)(?=/data)","deviceProfileExpressionSource":"constant","deviceProfileExpression":"Thermometer"},
  "timeseries":[{"type":"double","key":"temperature","value":"${temperature}"},{"type":"double","key":"humidity","value":"${humidity}"},
    {"type":"double","key":"pressure","value":"${pressure}"},{"type":"integer","key":"co2","value":"${co2}"},
    {"type":"integer","key":"battery","value":"${battery}"},{"type":"integer","key":"rssi","value":"${rssi}"}]}}]`

// BenchmarkIngest measures sustained ingest: mosquitto_pub processes publish
// QoS 1 messages with a 6-key JSON payload on 8 device topics; the
// connector converts them, hands them to a counting Sink and acknowledges
// them. Reported: messages/s and datapoints/s of the whole path, CPU time of
// this process (the connector) per message, and its peak RSS.
func BenchmarkIngest(b *testing.B) {
	pub, err := exec.LookPath("mosquitto_pub")
	drivertest.RequirePeer(b, err == nil, "mosquitto_pub")
	for _, v := range []int{4, 5} {
		for _, inflight := range []string{"20", "1000"} {
			b.Run(fmt.Sprintf("v%d/inflight=%s", v, inflight), func(b *testing.B) {
				benchIngest(b, pub, v, inflight)
			})
		}
	}
}

func benchIngest(b *testing.B, pub string, v int, inflight string) {
	m := startMosquitto(b, "max_inflight_messages "+inflight, "max_queued_messages 100000")
	cfg := `{"broker":{"host":"127.0.0.1","port":` + fmt.Sprint(m.port) + `,"clientId":"bench-` + fmt.Sprint(v) +
		`","version":` + fmt.Sprint(v) + `,"security":{"type":"anonymous"}},` + benchMapping + `}`
	env := drivertest.Env(b, "mqtt", "mqtt")
	env.Log = env.Log.WithGroup("x") // keep the default level; info lines only
	c, err := newConnector([]byte(cfg), env)
	if err != nil {
		b.Fatal(err)
	}
	sink := &countSink{}
	drivertest.Run(b, c, sink)
	drivertest.Eventually(b, 15*time.Second, "connected", c.Connected)

	const pubs = 8
	per := max(b.N/pubs, 1)
	total := int64(per * pubs)
	dir := b.TempDir()
	lines := strings.Repeat(benchPayload+"\n", per)
	file := filepath.Join(dir, "payload")
	if err := os.WriteFile(file, []byte(lines), 0o644); err != nil {
		b.Fatal(err)
	}
	var ru0, ru1 syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
	b.ResetTimer()
	start := time.Now()
	var cmds []*exec.Cmd
	for i := range pubs {
		f, err := os.Open(file)
		if err != nil {
			b.Fatal(err)
		}
		cmd := exec.Command(pub, "-h", "127.0.0.1", "-p", fmt.Sprint(m.port), "-q", "1", "-l",
			"-t", fmt.Sprintf("sensor/dev%d/data", i), "-i", fmt.Sprintf("bench-pub-%d", i))
		cmd.Stdin = f
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		f.Close()
		cmds = append(cmds, cmd)
	}
	deadline := time.Now().Add(5 * time.Minute)
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	var peakHeap uint64
	for sink.msgs.Load() < total {
		metrics.Read(sample)
		peakHeap = max(peakHeap, sample[0].Value.Uint64())
		if time.Now().After(deadline) {
			b.Fatalf("ingested %d of %d messages", sink.msgs.Load(), total)
		}
		time.Sleep(time.Millisecond)
	}
	el := time.Since(start)
	b.StopTimer()
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
	for _, cmd := range cmds {
		_ = cmd.Wait()
	}
	cpu := time.Duration(ru1.Utime.Nano()+ru1.Stime.Nano()-ru0.Utime.Nano()-ru0.Stime.Nano()) * time.Nanosecond
	b.ReportMetric(float64(total)/el.Seconds(), "msgs/s")
	b.ReportMetric(float64(sink.points.Load())/el.Seconds(), "points/s")
	b.ReportMetric(float64(cpu.Microseconds())/float64(total), "cpu-µs/msg")
	b.ReportMetric(float64(total)/float64(sink.sends.Load()), "msgs/send")
	b.ReportMetric(float64(ru1.Maxrss)/1024, "maxrss-MB")
	b.ReportMetric(float64(peakHeap)/(1<<20), "peakheap-MB")
	if c.Counters().Malformed.Load() > 0 {
		b.Errorf("%d malformed", c.Counters().Malformed.Load())
	}
}
