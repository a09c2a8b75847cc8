package gw

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/tbgw/tbgw/gw/config"
	"github.com/tbgw/tbgw/gw/tbtest"
)

// BenchmarkRemoteLogBusyConnector measures what remote logging sends at
// INFO under a busy connector: a connector logging one INFO line per
// poll, 1000 polls a second, with enableRemoteLogging, and the service log
// at RemoteLoggingLevel INFO. It reports the log telemetry payload bytes
// per minute (the rate limit's budget) over TBGW_REMOTELOG_SECONDS (60).
func BenchmarkRemoteLogBusyConnector(b *testing.B) {
	secs := 60
	if s, err := strconv.Atoi(os.Getenv("TBGW_REMOTELOG_SECONDS")); err == nil && s > 0 {
		secs = s
	}
	br := tbtest.StartBroker(b)
	tb := tbtest.NewThingsBoard(b, br.Host, br.Port)
	dir := b.TempDir()
	write := func(name string, v any) {
		js, _ := json.Marshal(v)
		if err := os.WriteFile(filepath.Join(dir, name), js, 0o600); err != nil {
			b.Fatal(err)
		}
	}
	write("tb_gateway.json", map[string]any{
		"thingsboard": map[string]any{"host": br.Host, "port": br.Port, "security": map[string]any{"accessToken": "tok"},
			"statistics": map[string]any{"enable": false}},
		"storage":    map[string]any{"type": "memory"},
		"connectors": []any{probeConn("Busy", "busy.json")},
	})
	write("busy.json", map[string]any{"devices": []string{"d1", "d2"}, "everyMs": 1, "chatty": true,
		"logLevel": "INFO", "enableRemoteLogging": true})
	cfg, err := config.Load(dir, func(string) string { return "" })
	if err != nil {
		b.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	g, err := New(cfg, Options{Version: "bench", Log: log, NewLink: NewTBLink(log)})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- g.Run(ctx) }()
	defer func() { cancel(); <-done }()
	tb.WaitConnected("d1", 10*time.Second)
	tb.SetGatewayAttributes(map[string]any{"RemoteLoggingLevel": "INFO"})
	tb.WaitTelemetry(tbtest.Self, "Busy_LOGS", nil, 10*time.Second)
	b.ResetTimer()
	start, startBytes, startDrops := time.Now(), g.rlog.sentBytes.Load(), g.rlog.drops.Load()
	lines0 := runsOfLines(g)
	timer := time.NewTimer(time.Duration(secs) * time.Second)
	<-timer.C
	el := time.Since(start)
	sent := g.rlog.sentBytes.Load() - startBytes
	b.ReportMetric(float64(sent)/el.Minutes(), "bytes/min")
	b.ReportMetric(float64(g.rlog.drops.Load()-startDrops)/el.Minutes(), "dropped/min")
	b.ReportMetric(float64(runsOfLines(g)-lines0)/el.Minutes(), "lines/min")
}

// runsOfLines is the number of data messages of the busy connector, one
// INFO line each.
func runsOfLines(g *Gateway) uint64 {
	r := g.runningByName("Busy")
	if r == nil {
		return 0
	}
	return r.cs.items.Load() / 2
}
