package ocpp

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/tbgw/tbgw/gw/connector"
)

// countSink accepts everything and keeps nothing.
type countSink struct{ n atomic.Int64 }

func (s *countSink) Send(ctx context.Context, items []connector.Data) error {
	s.n.Add(int64(len(items)))
	return nil
}
func (s *countSink) Connect(context.Context, string, string) error { return nil }
func (s *countSink) Disconnect(context.Context, string) error      { return nil }
func (s *countSink) RequestAttributes(context.Context, string, bool, []string) (map[string]any, error) {
	return nil, nil
}
func (s *countSink) Claim(context.Context, string, string, time.Duration) error { return nil }

// BenchmarkMeterValues: 100 charge points (WebSocket clients in this
// process) send MeterValues concurrently, each waiting for its answer as
// OCPP-J requires. Reports MeterValues/s and the heap each connected
// charger costs the central system.
func BenchmarkMeterValues(b *testing.B) {
	const chargers = 100
	cfg := sampleWith(b, func(m map[string]any) {
		delete(m["centralSystem"].(map[string]any), "security")
		m["chargePoints"] = []any{map[string]any{"idRegexpPattern": "B", "deviceNameExpression": "${ChargePointId}",
			"timeseries": []any{map[string]any{"messageTypeFilter": "MeterValues", "key": "e", "value": "${meter_value[0].sampled_value[0].value}"}}}}
	})
	cc, err := New(cfg, connector.Env{Name: "bench", Log: slog.New(slog.DiscardHandler), DataDir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	c := cc.(*Connector)
	sink := &countSink{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx, sink) }()
	defer func() { cancel(); <-done }()
	for c.ListenAddr() == "" {
		time.Sleep(time.Millisecond)
	}
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	d := websocket.Dialer{Subprotocols: []string{"ocpp1.6"}}
	conns := make([]*websocket.Conn, chargers)
	for i := range conns {
		conn, _, err := d.Dial(fmt.Sprintf("ws://%s/B%d", c.ListenAddr(), i), http.Header{})
		if err != nil {
			b.Fatal(err)
		}
		defer conn.Close()
		conns[i] = conn
		call(b, conn, "b", "BootNotification", `{"chargePointVendor":"V","chargePointModel":"M"}`)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	perCharger := float64(int64(after.HeapInuse+after.StackInuse)-int64(before.HeapInuse+before.StackInuse)) / chargers
	mv := `{"connectorId":1,"meterValue":[{"timestamp":"2024-01-02T03:04:05Z","sampledValue":[{"value":"12.5"}]}]}`
	b.ResetTimer()
	start := time.Now()
	var next atomic.Int64
	var wg sync.WaitGroup
	for _, conn := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(b.N) {
				call(b, conn, "m", "MeterValues", mv)
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "MeterValues/s")
	b.ReportMetric(perCharger, "heapB/charger")
}

func call(b *testing.B, conn *websocket.Conn, id, action, payload string) {
	if err := conn.WriteMessage(websocket.TextMessage, []byte(`[2,"`+id+`","`+action+`",`+payload+`]`)); err != nil {
		b.Error(err)
		return
	}
	_, msg, err := conn.ReadMessage()
	if err != nil || msg[1] != '3' {
		b.Errorf("%s: %s %v", action, msg, err)
	}
}
