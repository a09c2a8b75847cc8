package main

import (
	"context"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tbgw/tbgw/gw"
	"github.com/tbgw/tbgw/gw/config"
)

// Status reports each configured connector: one running with its
// counters, one whose file cannot be built as failed with the reason; and
// the control loop answers the liveness probe.
func TestStatusConnectorStates(t *testing.T) {
	dir := t.TempDir()
	writeJSON(t, filepath.Join(dir, "tb_gateway.json"), map[string]any{
		"thingsboard": map[string]any{"host": "127.0.0.1", "security": map[string]any{"accessToken": "t"}},
		"connectors": []any{
			map[string]any{"type": "simulator", "name": "Good", "configuration": "good.json"},
			map[string]any{"type": "simulator", "name": "Bad", "configuration": "bad.json"},
		},
	})
	writeJSON(t, filepath.Join(dir, "good.json"), simConfig(1, 50))
	writeJSON(t, filepath.Join(dir, "bad.json"), map[string]any{"devices": 1, "telemetry": []any{map[string]any{"key": "k", "type": "wobble"}}})
	cfg, err := config.Load(dir, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	g, err := gw.New(cfg, gw.Options{Version: "test", DataDir: t.TempDir(), NewLink: gw.NewPrintLink(io.Discard), Log: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- g.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	wctx, wcancel := context.WithTimeout(ctx, 30*time.Second)
	defer wcancel()
	if !g.WaitData(wctx) {
		t.Fatal("no data from the good connector")
	}
	actx, acancel := context.WithTimeout(ctx, 10*time.Second)
	defer acancel()
	if err := g.Alive(actx); err != nil {
		t.Fatalf("Alive: %v", err)
	}
	st := g.Status()
	if st.Version != "test" || !st.Connected || st.StorageType != "memory" || len(st.Connectors) != 2 {
		t.Fatalf("status: %+v", st)
	}
	bad, good := st.Connectors[0], st.Connectors[1]
	if bad.Name != "Bad" || bad.State != "failed" || !strings.Contains(bad.LastError, "unknown generator") {
		t.Errorf("bad connector: %+v", bad)
	}
	if good.Name != "Good" || good.Type != "simulator" || good.State != "running" || good.Counters["eventsProduced"] == 0 || good.Counters["datapointsReceived"] == 0 {
		t.Errorf("good connector: %+v", good)
	}
	if st.Counters["eventsStored"] == 0 {
		t.Errorf("counters: %v", st.Counters)
	}
}
