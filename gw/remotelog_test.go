package gw

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tbgw/tbgw/gw/tbtest"
)

// ERROR records and failed downlink calls of a connector reach ThingsBoard
// as <connector>_ERRORS_COUNT and ALL_ERRORS_COUNT; a connector without
// errors reports 0 so the connectors table shows it.
func TestRemoteErrorCounts(t *testing.T) {
	r := newRig(t, map[string]any{"connectors": []any{probeConn("ErrF", "f.json"), probeConn("Fine", "ok.json")}},
		map[string]any{"f.json": map[string]any{"devices": []string{"dev-f"}, "failRuns": 1},
			"ok.json": map[string]any{"devices": []string{"dev-ok"}}})
	r.start()
	r.tb.WaitTelemetry(tbtest.Self, "Fine_ERRORS_COUNT", func(v any) bool { return v.(float64) == 0 }, 10*time.Second)
	// One failed run (logged at ERROR) ...
	r.tb.WaitTelemetry(tbtest.Self, "ErrF_ERRORS_COUNT", func(v any) bool { return v.(float64) == 1 }, 15*time.Second)
	r.tb.WaitTelemetry(tbtest.Self, "ALL_ERRORS_COUNT", func(v any) bool { return v.(float64) >= 1 }, 15*time.Second)
	// ... then a failed RPC once it runs again.
	r.tb.WaitTelemetry("dev-f", "v", nil, 15*time.Second)
	if reply, err := r.tb.RPC("dev-f", "fail", nil, 10*time.Second); err != nil || !strings.Contains(string(reply), "it failed") {
		t.Fatalf("fail: %s %v", reply, err)
	}
	r.tb.WaitTelemetry(tbtest.Self, "ErrF_ERRORS_COUNT", func(v any) bool { return v.(float64) == 2 }, 15*time.Second)
	for _, rec := range r.tb.Telemetry(tbtest.Self) {
		if v, ok := rec.Values["Fine_ERRORS_COUNT"]; ok && v.(float64) != 0 {
			t.Fatalf("errors counted for the wrong connector: %v", rec.Values)
		}
	}
}

// Remote logs: nothing is sent until ThingsBoard sets RemoteLoggingLevel;
// then service records at or above it arrive as SERVICE_LOGS and LOGS, and
// a connector with enableRemoteLogging streams <name>_LOGS at its logLevel.
func TestRemoteLogging(t *testing.T) {
	r := newRig(t, map[string]any{"connectors": []any{probeConn("Loud", "loud.json"), probeConn("Quiet", "quiet.json")}},
		map[string]any{"loud.json": map[string]any{"devices": []string{"dev-l"}, "enableRemoteLogging": true, "logLevel": "INFO", "chatty": true, "everyMs": 200},
			"quiet.json": map[string]any{"devices": []string{"dev-q"}, "logLevel": "INFO", "chatty": true, "everyMs": 200}})
	r.start()
	v := r.tb.WaitTelemetry(tbtest.Self, "Loud_LOGS", func(v any) bool { return strings.Contains(v.(string), "busy connector") }, 10*time.Second)
	if s := v.(string); !strings.Contains(s, "|INFO|") || !strings.Contains(s, "connector=Loud") {
		t.Fatalf("log line %q", s)
	}
	for _, rec := range r.tb.Telemetry(tbtest.Self) {
		for _, k := range []string{"SERVICE_LOGS", "LOGS", "Quiet_LOGS"} {
			if _, ok := rec.Values[k]; ok {
				t.Fatalf("%s sent without being asked for: %v", k, rec.Values)
			}
		}
		if _, ok := rec.Values["Loud_LOGS"]; ok && rec.Values["LOGS"] != nil {
			t.Fatal("connector logs copied to LOGS")
		}
	}
	r.tb.SetGatewayAttributes(map[string]any{"RemoteLoggingLevel": "INFO"})
	r.tb.WaitAttribute(tbtest.Self, "RemoteLoggingLevel", func(v any) bool { return v == "INFO" }, 10*time.Second)
	r.tb.Wait(10*time.Second, "SERVICE_LOGS with LOGS", func() bool {
		for _, rec := range r.tb.Telemetry(tbtest.Self) {
			if s, ok := rec.Values["SERVICE_LOGS"].(string); ok && strings.Contains(s, "remote logging level changed") && rec.Values["LOGS"] == s {
				return true
			}
		}
		return false
	})
	r.g.log.Debug("below the remote level")
	r.g.log.Warn("above the remote level")
	r.tb.WaitTelemetry(tbtest.Self, "SERVICE_LOGS", func(v any) bool { return strings.Contains(v.(string), "above the remote level") }, 10*time.Second)
	for _, rec := range r.tb.Telemetry(tbtest.Self) {
		if s, _ := rec.Values["SERVICE_LOGS"].(string); strings.Contains(s, "below the remote level") {
			t.Fatal("a DEBUG record sent at remote level INFO")
		}
	}
}

// The byte budget bounds what a flood of records admits, and the queue
// bounds what waits while disconnected.
func TestRemoteLogRateLimit(t *testing.T) {
	rl := newRemoteLog(time.Now)
	rl.svc.Set(slog.LevelInfo)
	log := slog.New(rl.handler(slog.DiscardHandler, "SERVICE_LOGS", "service", true, &rl.svc))
	start := time.Now()
	for i := 0; i < 20000; i++ {
		log.Info("flood", "i", i, "payload", strings.Repeat("x", 100))
	}
	log.Error(strings.Repeat("y", 5000))
	elapsed := time.Since(start)
	rl.mu.Lock()
	n := len(rl.queue)
	bytes := 0
	for _, r := range rl.queue {
		bytes += len(r.line)
		if len(r.line) > remoteLogLine+len("…") {
			t.Fatalf("record of %d bytes", len(r.line))
		}
	}
	rl.mu.Unlock()
	if n > remoteLogQueue || rl.drops.Load() == 0 {
		t.Fatalf("queue %d, drops %d", n, rl.drops.Load())
	}
	if limit := remoteLogBurst + elapsed.Seconds()*remoteLogRate; float64(bytes) > limit {
		t.Fatalf("%d bytes admitted, budget %.0f", bytes, limit)
	}
	if rl.errs["service"] != 1 {
		t.Fatalf("error count %d", rl.errs["service"])
	}
	// A later record reports how many were dropped.
	rl.mu.Lock()
	rl.queue = rl.queue[:0]
	rl.tokens = remoteLogBurst
	rl.noticed = time.Time{} // the last notice was long ago
	rl.dropped++             // and a record was dropped since
	rl.mu.Unlock()
	log.Info("after the flood")
	got := rl.take(1 << 20)
	if len(got) != 2 || !strings.Contains(got[0].line, "log records not sent") || !strings.Contains(got[1].line, "after the flood") {
		t.Fatalf("after the flood: %+v", got)
	}
	if !log.Enabled(context.Background(), slog.LevelError) {
		t.Fatal("errors must always reach the counters")
	}
}

// A connector pushed from ThingsBoard's UI keeps its id, report strategy,
// configVersion and enableRemoteLogging, is matched by configurationJson.id
// (a rename in the UI renames, not duplicates), and the applied
// configuration is echoed back with the pushed ts.
func TestRemoteConnectorFidelity(t *testing.T) {
	r := newRig(t, map[string]any{
		"thingsboard": map[string]any{"remoteConfiguration": true},
		"connectors":  []any{probeConn("Fid", "fid.json")},
	}, map[string]any{"fid.json": map[string]any{"devices": []string{"fid-dev"}}})
	r.start()
	r.tb.WaitAttribute(tbtest.Self, "Version", func(v any) bool { return v == UpstreamVersion }, 10*time.Second)
	r.tb.WaitAttribute(tbtest.Self, "tbgwVersion", func(v any) bool { return v == "test" }, 10*time.Second)
	cur := r.tb.WaitAttribute(tbtest.Self, "Fid", nil, 10*time.Second).(map[string]any)
	id, _ := cur["id"].(string)
	if cj, _ := cur["configurationJson"].(map[string]any); id == "" || cj["id"] != id {
		t.Fatalf("connector attribute without its id: %v", cur)
	}
	strategy := map[string]any{"type": "ON_REPORT_PERIOD", "reportPeriod": 60000}
	r.tb.SetGatewayAttributes(map[string]any{"Fid Renamed": map[string]any{
		"name": "Fid Renamed", "type": "probe", "configuration": "fid_renamed.json", "logLevel": "DEBUG",
		"enableRemoteLogging": true, "reportStrategy": strategy, "configVersion": "3.8.3", "ts": 1234567,
		"configurationJson": map[string]any{"id": id, "devices": []string{"fid-dev", "fid-dev-2"}},
	}})
	var echo map[string]any
	r.tb.WaitMessage("v1/devices/me/attributes", func(m tbtest.Msg) bool {
		var a map[string]map[string]any
		json.Unmarshal(m.Payload, &a)
		echo = a["Fid Renamed"]
		return echo != nil && echo["ts"] == 1234567.0
	}, 15*time.Second)
	cj, _ := echo["configurationJson"].(map[string]any)
	rs, _ := echo["reportStrategy"].(map[string]any)
	if echo["id"] != id || cj["id"] != id || echo["configVersion"] != "3.8.3" || echo["enableRemoteLogging"] != true ||
		echo["logLevel"] != "DEBUG" || rs["type"] != "ON_REPORT_PERIOD" || echo["configuration"] != "fid.json" {
		t.Fatalf("echo %v", echo)
	}
	if _, ok := cj["reportStrategy"]; ok {
		t.Fatalf("reportStrategy left inside configurationJson: %v", cj)
	}
	b, err := os.ReadFile(filepath.Join(r.dir, "fid.json"))
	if err != nil {
		t.Fatal(err)
	}
	var file map[string]any
	json.Unmarshal(b, &file)
	if file["id"] != id || file["configVersion"] != "3.8.3" || file["enableRemoteLogging"] != true || file["reportStrategy"] == nil || file["name"] != "Fid Renamed" {
		t.Fatalf("connector file %s", b)
	}
	if _, err := os.Stat(filepath.Join(r.dir, "fid_renamed.json")); err == nil {
		t.Fatal("a rename created a second connector")
	}
	main, _ := os.ReadFile(filepath.Join(r.dir, "tb_gateway.json"))
	if strings.Contains(string(main), `"Fid"`) || !strings.Contains(string(main), `"Fid Renamed"`) {
		t.Fatalf("main file %s", main)
	}
	r.tb.WaitTelemetry("fid-dev-2", "v", nil, 15*time.Second)
}
