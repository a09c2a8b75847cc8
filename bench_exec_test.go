package main

import (
	"encoding/json"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/tbgw/tbgw/gw/tbtest"
)

// BenchmarkE2EExecFlood: lines per second from a program writing
// telemetry lines as fast as it can, through the whole gateway (exec
// connector, memory storage, uplink) to the ThingsBoard stand-in.
func BenchmarkE2EExecFlood(b *testing.B) {
	py, err := exec.LookPath("/usr/bin/python3")
	if err != nil {
		b.Skip("python3 not installed")
	}
	n := max(b.N, 1000)
	prog := `import sys
w = sys.stdout.write
for i in range(1, ` + strconv.Itoa(n+1) + `):
    w('{"type":"telemetry","device":"Flood","values":{"i":%d}}\n' % i)
sys.stdout.flush()
sys.stdin.read()
`
	br := tbtest.StartBroker(b)
	tb := tbtest.NewThingsBoard(b, br.Host, br.Port)
	dir := b.TempDir()
	writeJSON(b, filepath.Join(dir, "tb_gateway.json"), map[string]any{
		"thingsboard": map[string]any{"host": br.Host, "port": br.Port, "qos": 1,
			"security": map[string]any{"type": "accessToken", "accessToken": "t"}},
		"storage":    json.RawMessage(`{"type":"memory","max_records_count":1000000}`),
		"connectors": []any{map[string]any{"type": "exec", "name": "Flood", "configuration": "flood.json"}},
	})
	writeJSON(b, filepath.Join(dir, "flood.json"), map[string]any{"command": []string{py, "-c", prog}})
	b.ResetTimer()
	start := time.Now()
	startGateway(b, dir)
	tb.WaitTelemetry("Flood", "i", func(v any) bool { f, _ := v.(float64); return int(f) == n }, 5*time.Minute)
	el := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(n)/el.Seconds(), "lines/s")
}
