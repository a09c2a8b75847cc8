package exec

import (
	"context"
	"encoding/json"
	"os"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tbgw/tbgw/gw/connector"
)

// countSink counts what it stores and notices the flood's last line.
type countSink struct {
	items atomic.Int64
	done  chan struct{}
}

func (s *countSink) Send(ctx context.Context, items []connector.Data) error {
	s.items.Add(int64(len(items)))
	for _, d := range items {
		if len(d.Telemetry) == 1 && d.Telemetry[0].Key == "allAcked" {
			close(s.done)
		}
	}
	return nil
}
func (s *countSink) Connect(context.Context, string, string) error { return nil }
func (s *countSink) Disconnect(context.Context, string) error      { return nil }
func (s *countSink) RequestAttributes(context.Context, string, bool, []string) (map[string]any, error) {
	return nil, nil
}
func (s *countSink) Claim(context.Context, string, string, time.Duration) error { return nil }

// BenchmarkFlood: lines per second from a program writing as fast as it
// can (each line with a seq, acknowledged after Send), through the
// connector into a sink that accepts at once.
func BenchmarkFlood(b *testing.B) {
	exe, _ := os.Executable()
	cmd, _ := json.Marshal([]string{exe, "-test.run=^$"})
	n := max(b.N, 1000)
	raw := `{"command":` + string(cmd) + `,"env":{"TBGW_EXEC_HELPER":"flood","FLOOD_N":"` + strconv.Itoa(n) + `"}}`
	c, err := New([]byte(raw), connector.Env{Name: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	sink := &countSink{done: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	b.ResetTimer()
	start := time.Now()
	go func() { done <- c.Run(ctx, sink) }()
	select {
	case <-sink.done:
	case <-time.After(5 * time.Minute):
		b.Fatal("flood did not finish")
	}
	el := time.Since(start)
	b.StopTimer()
	cancel()
	<-done
	b.ReportMetric(float64(n)/el.Seconds(), "lines/s")
}
