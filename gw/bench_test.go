package gw

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/tbgw/tbgw/gw/config"
	"github.com/tbgw/tbgw/gw/connector"
	"github.com/tbgw/tbgw/gw/report"
	"github.com/tbgw/tbgw/gw/storage"
)

type nopLink struct{}

func (nopLink) Connected() bool { return false }
func (nopLink) Publish(context.Context, string, []byte, byte, int) (Token, error) {
	return nil, errLinkDown
}
func (nopLink) MaxPayload() int { return 52428 }
func (nopLink) RequestDeviceAttributes(context.Context, string, bool, []string) (map[string]any, error) {
	return nil, errLinkDown
}
func (nopLink) Run(ctx context.Context) error { <-ctx.Done(); return nil }

// BenchmarkSinkSend measures the core's per-message cost: filter, report
// strategy (ON_RECEIVED), unique timestamps, registry, encoding and a
// memory-store append, for a 6-datapoint message.
func BenchmarkSinkSend(b *testing.B) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	one := 1
	g := &Gateway{
		cfg:     &config.Config{ThingsBoard: config.ThingsBoard{QoS: &one}},
		log:     log,
		now:     nowFunc(),
		lastTS:  map[string]int64{},
		running: map[string]*running{},
		control: make(chan controlMsg, 1024),
		report:  report.New(nil, nil),
		reg:     newRegistry(b.TempDir() + "/d.json"),
		store:   storage.NewMemory(storage.MemoryOptions{MaxRecords: 1 << 20, MaxBytes: 1 << 30}),
		link:    nopLink{},
	}
	g.maxPayload.Store(52428)
	s := &sink{g: g, name: "bench", id: "bench", cs: &connStats{}}
	devs := make([]string, 100)
	for i := range devs {
		devs[i] = fmt.Sprintf("device-%03d", i)
	}
	ctx := context.Background()
	items := make([]connector.Data, 1)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		items[0] = connector.Data{Device: devs[i%len(devs)], Telemetry: []connector.Point{
			{Key: "temperature", Value: 21.5}, {Key: "humidity", Value: 40.25}, {Key: "pressure", Value: int64(1013)},
			{Key: "status", Value: "ok"}, {Key: "relay", Value: true}, {Key: "seq", Value: int64(i)},
		}}
		if err := s.Send(ctx, items); err != nil {
			b.Fatal(err)
		}
		if i%10000 == 9999 {
			st := g.store.Stats()
			_ = st
			bt, _ := g.store.Next(ctx, 1<<20, 1<<30)
			g.store.Ack(bt.Last())
		}
	}
	b.ReportMetric(float64(b.N*6)/b.Elapsed().Seconds(), "datapoints/s")
}

func nowFunc() func() time.Time { return time.Now }
