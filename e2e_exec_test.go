package main

// The exec connector end to end: the example programs (bash and Python)
// and the Python extension host run by the real gateway, against the
// ThingsBoard stand-in: telemetry up, shared attribute updates and RPCs
// down and their answers back.

import (
	"encoding/json"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/tbgw/tbgw/drivers/drivertest"
	"github.com/tbgw/tbgw/gw/tbtest"
)

func TestE2EExecConnectors(t *testing.T) {
	bash, err := exec.LookPath("bash")
	drivertest.RequirePeer(t, err == nil, "bash")
	py, err := exec.LookPath("/usr/bin/python3")
	drivertest.RequirePeer(t, err == nil, "python3")
	examples, _ := filepath.Abs("examples/exec")
	ext, _ := filepath.Abs("extensions")

	b := tbtest.StartBroker(t)
	tb := tbtest.NewThingsBoard(t, b.Host, b.Port)
	dir := t.TempDir()
	writeJSON(t, filepath.Join(dir, "tb_gateway.json"), map[string]any{
		"thingsboard": map[string]any{
			"host": b.Host, "port": b.Port, "qos": 1,
			"security": map[string]any{"type": "accessToken", "accessToken": "test-token"},
		},
		"storage": json.RawMessage(memoryStorage),
		"connectors": []any{
			map[string]any{"type": "exec", "name": "Shell", "configuration": "shell.json"},
			map[string]any{"type": "exec", "name": "Python", "configuration": "python.json"},
			map[string]any{"type": "exec", "name": "Upstream demo", "configuration": "demo.json"},
		},
	})
	writeJSON(t, filepath.Join(dir, "shell.json"), map[string]any{
		"command": []string{bash, filepath.Join(examples, "counter.sh")}, "config": map[string]any{"periodMs": 100}})
	writeJSON(t, filepath.Join(dir, "python.json"), map[string]any{
		"command": []string{py, filepath.Join(examples, "thermostat.py")},
		"config":  map[string]any{"devices": []string{"Thermostat A"}, "periodMs": 100}})
	writeJSON(t, filepath.Join(dir, "demo.json"), map[string]any{
		"command": []string{py, filepath.Join(ext, "tbgw_host.py")},
		"config": map[string]any{"type": "demo", "class": "DemoConnector",
			"configuration": filepath.Join(ext, "examples", "demo.json"), "extensionsPath": []string{filepath.Join(ext, "examples")}}})
	startGateway(t, dir)

	// Shell: telemetry, RPC, attribute update.
	tb.WaitConnected("Shell Counter", 20*time.Second)
	tb.WaitTelemetry("Shell Counter", "counter", func(v any) bool { n, _ := v.(float64); return n >= 2 }, 20*time.Second)
	reply, err := tb.RPC("Shell Counter", "reset", 5000, 15*time.Second)
	if err != nil || string(reply) != `{"counter":5000}` {
		t.Fatalf("reset: %s, %v", reply, err)
	}
	tb.WaitTelemetry("Shell Counter", "counter", func(v any) bool { n, _ := v.(float64); return n > 5000 }, 20*time.Second)
	tb.SetAttributes("Shell Counter", map[string]any{"step": 7})
	tb.WaitAttribute("Shell Counter", "step", func(v any) bool { return v == 7.0 }, 20*time.Second)

	// Python.
	tb.WaitConnected("Thermostat A", 20*time.Second)
	tb.WaitTelemetry("Thermostat A", "temperature", func(v any) bool { _, ok := v.(float64); return ok }, 20*time.Second)
	reply, err = tb.RPC("Thermostat A", "setMode", map[string]any{"mode": "off"}, 15*time.Second)
	if err != nil || string(reply) != `{"mode":"off"}` {
		t.Fatalf("setMode: %s, %v", reply, err)
	}
	tb.SetAttributes("Thermostat A", map[string]any{"targetTemperature": 25.5})
	tb.WaitAttribute("Thermostat A", "targetTemperature", func(v any) bool { return v == 25.5 }, 20*time.Second)

	// Upstream-style Python connector through the extension host.
	tb.WaitConnected("Demo Device", 20*time.Second)
	tb.WaitTelemetry("Demo Device", "humidity", func(v any) bool { return v == 40.0 }, 20*time.Second)
	tb.WaitAttribute("Demo Device", "status", func(v any) bool { return v == "ok" }, 20*time.Second)
	reply, err = tb.RPC("Demo Device", "setValue", 258, 15*time.Second)
	if err != nil || string(reply) != `{"result":{"written":"0102"}}` {
		t.Fatalf("setValue: %s, %v", reply, err)
	}
	tb.SetAttributes("Demo Device", map[string]any{"mode": "eco"})
	tb.WaitAttribute("Demo Device", "applied_mode", func(v any) bool { return v == "eco" }, 20*time.Second)
}
