package main

// End-to-end tests: the real gateway (in process, or the built binary)
// against a real MQTT broker with a client playing ThingsBoard.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/tbgw/tbgw/gw"
	"github.com/tbgw/tbgw/gw/config"
	"github.com/tbgw/tbgw/gw/tbtest"
)

// gwDir writes a configuration directory for a gateway connected to broker
// with one simulator connector.
func gwDir(t *testing.T, b *tbtest.Broker, storage string, sim map[string]any) string {
	t.Helper()
	dir := t.TempDir()
	main := map[string]any{
		"thingsboard": map[string]any{
			"host": b.Host, "port": b.Port, "qos": 1,
			"security":   map[string]any{"type": "accessToken", "accessToken": "test-token"},
			"statistics": map[string]any{"enable": true, "statsSendPeriodInSeconds": 10},
		},
		"storage":    json.RawMessage(storage),
		"connectors": []any{map[string]any{"type": "simulator", "name": "Simulator", "configuration": "simulator.json"}},
	}
	writeJSON(t, filepath.Join(dir, "tb_gateway.json"), main)
	writeJSON(t, filepath.Join(dir, "simulator.json"), sim)
	return dir
}

func writeJSON(t testing.TB, path string, v any) {
	t.Helper()
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

const memoryStorage = `{"type":"memory","max_records_count":100000}`

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// startGateway runs an in-process gateway on dir until the returned stop
// function is called (or the test ends).
func startGateway(t testing.TB, dir string) (stop func()) {
	t.Helper()
	cfg, err := config.Load(dir, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))
	g, err := gw.New(cfg, gw.Options{Version: "test", Log: log, NewLink: gw.NewTBLink(log)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- g.Run(ctx) }()
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("gateway Run: %v", err)
			}
		case <-time.After(20 * time.Second):
			t.Errorf("gateway did not stop within 20s")
		}
	}
	t.Cleanup(stop)
	return stop
}

func simConfig(devices, periodMs int) map[string]any {
	return map[string]any{
		"devices": devices, "deviceNamePrefix": "Sim Device ", "periodMs": periodMs,
		"telemetry": []any{
			map[string]any{"key": "counter", "type": "counter"},
			map[string]any{"key": "temperature", "type": "sine", "min": 15, "max": 25},
		},
		"attributes": []any{map[string]any{"key": "model", "value": "SIM-1"}},
	}
}

func TestE2ETelemetryAndAttributes(t *testing.T) {
	b := tbtest.StartBroker(t)
	tb := tbtest.NewThingsBoard(t, b.Host, b.Port)
	startGateway(t, gwDir(t, b, memoryStorage, simConfig(3, 150)))
	for i := 1; i <= 3; i++ {
		dev := fmt.Sprintf("Sim Device %d", i)
		tb.WaitConnected(dev, 20*time.Second)
		tb.WaitAttribute(dev, "model", func(v any) bool { return v == "SIM-1" }, 10*time.Second)
		tb.WaitTelemetry(dev, "counter", func(v any) bool { n, _ := v.(float64); return n >= 3 }, 10*time.Second)
	}
	// Every telemetry message of a device has a unique timestamp.
	for i := 1; i <= 3; i++ {
		seen := map[int64]bool{}
		for _, r := range tb.Telemetry(fmt.Sprintf("Sim Device %d", i)) {
			if seen[r.Ts] {
				t.Fatalf("duplicate timestamp %d", r.Ts)
			}
			seen[r.Ts] = true
		}
	}
}

func TestE2EAttributeUpdateAndRPC(t *testing.T) {
	b := tbtest.StartBroker(t)
	tb := tbtest.NewThingsBoard(t, b.Host, b.Port)
	startGateway(t, gwDir(t, b, memoryStorage, simConfig(2, 100)))
	tb.WaitConnected("Sim Device 1", 20*time.Second)
	tb.WaitConnected("Sim Device 2", 20*time.Second)

	// Shared attribute update: the simulator applies it and reports it back.
	tb.SetAttributes("Sim Device 1", map[string]any{"targetTemperature": 22.5})
	tb.WaitAttribute("Sim Device 1", "targetTemperature", func(v any) bool { return v == 22.5 }, 10*time.Second)

	// RPC with a {"success": ...} reply, then the pinned value shows in telemetry.
	reply, err := tb.RPC("Sim Device 2", "setValue", map[string]any{"key": "temperature", "value": 99.5}, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	assertJSON(t, reply, `{"success":true}`)
	tb.WaitTelemetry("Sim Device 2", "temperature", func(v any) bool { return v == 99.5 }, 10*time.Second)

	// RPC with a {"result": {...}} reply.
	reply, err = tb.RPC("Sim Device 2", "getValue", map[string]any{"key": "temperature"}, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	assertJSON(t, reply, `{"result":{"value":99.5}}`)

	// Unknown method: the connector's error reply.
	reply, err = tb.RPC("Sim Device 2", "explode", nil, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	assertJSON(t, reply, `{"result":{"error":"Method not found for explode"}}`)

	// Gateway RPCs.
	reply, err = tb.GatewayRPC("gateway_ping", nil, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	assertJSON(t, reply, `{"code":200,"resp":"pong"}`)
	reply, err = tb.GatewayRPC("gateway_devices", nil, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	assertJSON(t, reply, `{"code":200,"resp":{"Sim Device 1":"Simulator","Sim Device 2":"Simulator"}}`)
	reply, err = tb.GatewayRPC("gateway_version", nil, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	assertJSON(t, reply, `{"code":200,"resp":{"current_version":"test","latest_version":"test"}}`)
	reply, err = tb.GatewayRPC("simulator_devices", nil, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	assertJSON(t, reply, `{"result":["Sim Device 1","Sim Device 2"]}`)
	reply, err = tb.GatewayRPC("gateway_nonsense", nil, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	assertJSON(t, reply, `{"code":404,"error":"Method not found"}`)
	reply, err = tb.GatewayRPC("bacnet_read", nil, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	assertJSON(t, reply, `{"code":404,"error":"bacnet - connector not found in available connectors."}`)
	reply, err = tb.GatewayRPC("gateway_stats", nil, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var st map[string]any
	if err := json.Unmarshal(reply, &st); err != nil || st["eventsSent"] == nil {
		t.Fatalf("gateway_stats: %s", reply)
	}
}

func assertJSON(t *testing.T, got json.RawMessage, want string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("reply %s: %v", got, err)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatal(err)
	}
	gb, _ := json.Marshal(g)
	wb, _ := json.Marshal(w)
	if !bytes.Equal(gb, wb) {
		t.Fatalf("reply %s, want %s", gb, wb)
	}
}

func TestE2ERestartReannouncesDevices(t *testing.T) {
	b := tbtest.StartBroker(t)
	tb := tbtest.NewThingsBoard(t, b.Host, b.Port)
	dir := gwDir(t, b, memoryStorage, simConfig(3, 100))
	stop := startGateway(t, dir)
	for i := 1; i <= 3; i++ {
		tb.WaitConnected(fmt.Sprintf("Sim Device %d", i), 20*time.Second)
	}
	stop()
	if _, err := os.Stat(filepath.Join(dir, gw.DevicesFile)); err != nil {
		t.Fatalf("registry not persisted: %v", err)
	}
	// Second run: a simulator that sends nothing during the test, so every
	// connect seen now is a re-announcement from connected_devices.json.
	quiet := simConfig(3, 3600_000)
	delete(quiet, "attributes")
	writeJSON(t, filepath.Join(dir, "simulator.json"), quiet)
	tb.Reset()
	startGateway(t, dir)
	tb.Wait(20*time.Second, "re-announcement of 3 devices", func() bool {
		return tb.Connects("Sim Device 1") > 0 && tb.Connects("Sim Device 2") > 0 && tb.Connects("Sim Device 3") > 0
	})
	if n := len(tb.Telemetry("Sim Device 1")); n != 0 {
		t.Fatalf("quiet simulator sent %d records", n)
	}
}

// counters returns the sorted distinct counter values of a device.
func counters(tb *tbtest.ThingsBoard, dev string) []int {
	set := map[int]bool{}
	for _, r := range tb.Telemetry(dev) {
		if v, ok := r.Values["counter"].(float64); ok {
			set[int(v)] = true
		}
	}
	out := make([]int, 0, len(set))
	for v := range set {
		out = append(out, v)
	}
	sort.Ints(out)
	return out
}

func TestE2EBrokerOutageLosesNothing(t *testing.T) {
	for name, storage := range map[string]string{
		"memory": memoryStorage,
		"wal":    `{"type":"file","data_folder_path":"./data/"}`,
	} {
		t.Run(name, func(t *testing.T) { testOutage(t, storage) })
	}
}

func testOutage(t *testing.T, storage string) {
	b := tbtest.StartBroker(t)
	tb := tbtest.NewThingsBoard(t, b.Host, b.Port)
	startGateway(t, gwDir(t, b, storage, simConfig(2, 20)))
	tb.WaitTelemetry("Sim Device 1", "counter", func(v any) bool { n, _ := v.(float64); return n >= 10 }, 20*time.Second)

	b.Stop()
	// Data keeps coming from the simulator while ThingsBoard is away.
	time.Sleep(2 * time.Second) // the outage itself: a duration, not a condition
	b.Start()

	before := counters(tb, "Sim Device 1")
	target := before[len(before)-1] + 150 // well past everything produced in the outage
	for _, dev := range []string{"Sim Device 1", "Sim Device 2"} {
		tb.WaitTelemetry(dev, "counter", func(v any) bool { n, _ := v.(float64); return int(n) >= target }, 30*time.Second)
		got := counters(tb, dev)
		for i, v := range got {
			if v != i+1 {
				t.Fatalf("%s: counter %d missing after the outage (have %d values up to %d)", dev, i+1, len(got), got[len(got)-1])
			}
		}
	}
}

func TestCheckUpstreamConfigs(t *testing.T) {
	src := filepath.Join("testdata", "upstream")
	types := map[string]string{
		"bacnet.json": "bacnet", "ble.json": "ble", "can.json": "can", "custom_serial.json": "serial",
		"ftp.json": "ftp", "knx.json": "knx", "modbus.json": "modbus", "modbus_serial.json": "modbus",
		"mqtt.json": "mqtt", "ocpp.json": "ocpp", "odbc.json": "odbc", "opcua.json": "opcua",
		"request.json": "request", "rest.json": "rest", "snmp.json": "snmp", "socket.json": "socket", "xmpp.json": "xmpp",
	}
	dir := t.TempDir()
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// The upstream main file unchanged, with its empty connectors list.
	var stdout, stderr bytes.Buffer
	if code := run([]string{"check", "-c", dir, "-data", t.TempDir()}, &stdout, &stderr); code != 0 {
		t.Fatalf("check of upstream tb_gateway.json: exit %d\n%s", code, stderr.String())
	}
	// Every upstream connector file, listed in a main file.
	var main map[string]any
	raw, _ := os.ReadFile(filepath.Join(src, "tb_gateway.json"))
	if err := json.Unmarshal(raw, &main); err != nil {
		t.Fatal(err)
	}
	var list []any
	names := make([]string, 0, len(types))
	for f := range types {
		names = append(names, f)
	}
	sort.Strings(names)
	for _, f := range names {
		entry := map[string]any{"type": types[f], "name": strings.TrimSuffix(f, ".json"), "configuration": f}
		if f == "custom_serial.json" {
			entry["class"] = "CustomSerialConnector"
		}
		list = append(list, entry)
	}
	main["connectors"] = list
	all := filepath.Join(dir, "all")
	if err := os.Mkdir(all, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, _ := os.ReadFile(filepath.Join(dir, e.Name()))
		os.WriteFile(filepath.Join(all, e.Name()), b, 0o644)
	}
	writeJSON(t, filepath.Join(all, "tb_gateway.json"), main)
	stdout.Reset()
	stderr.Reset()
	if code := run([]string{"check", "-c", all, "-data", t.TempDir()}, &stdout, &stderr); code != 0 {
		t.Fatalf("check of every upstream connector file: exit %d\n%s", code, stderr.String())
	}
	// No key of an upstream file is unknown to the connectors built in.
	for _, line := range strings.Split(stderr.String(), "\n") {
		if strings.Contains(line, "unknown key") || strings.HasPrefix(line, "error:") {
			t.Errorf("unexpected: %s", line)
		}
	}
	t.Logf("check output:\n%s", stderr.String())
}

func TestCheckReportsBadConfig(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "tb_gateway.json"), []byte("{\n  \"thingsboard\": {\n    \"host\": \"h\",\n    \"qos\": \"one\"\n  },\n  \"connectors\": [{\"type\": \"simulator\", \"name\": \"S\", \"configuration\": \"s.json\"}]\n}"), 0o644)
	os.WriteFile(filepath.Join(dir, "s.json"), []byte(`{"devices": 2}`), 0o644)
	var stdout, stderr bytes.Buffer
	if code := run([]string{"check", "-c", dir, "-data", t.TempDir()}, &stdout, &stderr); code == 0 {
		t.Fatal("check accepted a bad file")
	}
	if !strings.Contains(stderr.String(), "tb_gateway.json:4:12: thingsboard.qos: wrong type") {
		t.Fatalf("stderr: %s", stderr.String())
	}
	// A connector file with a bad value and an unknown key.
	os.WriteFile(filepath.Join(dir, "tb_gateway.json"), []byte(`{"thingsboard": {"host": "h"}, "connectors": [{"type": "simulator", "name": "S", "configuration": "s.json"}]}`), 0o644)
	os.WriteFile(filepath.Join(dir, "s.json"), []byte("{\"devices\": 2,\n \"telemetry\": [{\"key\": \"k\", \"type\": \"wobble\"}],\n \"colour\": 1}"), 0o644)
	stderr.Reset()
	if code := run([]string{"check", "-c", dir, "-data", t.TempDir()}, &stdout, &stderr); code == 0 {
		t.Fatal("check accepted a bad connector file")
	}
	for _, want := range []string{"s.json:2:", "telemetry[0].type: unknown generator", "colour: unknown key"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr.String())
		}
	}
}
