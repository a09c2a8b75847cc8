package main

import (
	"bufio"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/tbgw/tbgw/drivers/drivertest"
	"github.com/tbgw/tbgw/gw/tbtest"
)

// Upstream's custom serial connector entry and file (only the port
// changed) through the gateway: a socat pty pair plays the device.
func TestE2ESerialUpstreamSample(t *testing.T) {
	socat, err := exec.LookPath("socat")
	drivertest.RequirePeer(t, err == nil, "socat")
	dir := t.TempDir()
	devPath, gwPath := filepath.Join(dir, "dev"), filepath.Join(dir, "ttyGW")
	drivertest.StartProcess(t, nil, socat, "pty,raw,echo=0,link="+devPath, "pty,raw,echo=0,link="+gwPath)
	drivertest.Eventually(t, 10*time.Second, "socat ptys", func() bool {
		_, e1 := os.Stat(devPath)
		_, e2 := os.Stat(gwPath)
		return e1 == nil && e2 == nil
	})
	dev, err := os.OpenFile(devPath, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer dev.Close()

	raw, err := os.ReadFile("testdata/upstream/custom_serial.json")
	if err != nil {
		t.Fatal(err)
	}
	var cfg map[string]any
	json.Unmarshal(raw, &cfg)
	cfg["devices"].([]any)[0].(map[string]any)["port"] = gwPath
	writeJSON(t, filepath.Join(dir, "custom_serial.json"), cfg)

	b := tbtest.StartBroker(t)
	tb := tbtest.NewThingsBoard(t, b.Host, b.Port)
	writeJSON(t, filepath.Join(dir, "tb_gateway.json"), map[string]any{
		"thingsboard": map[string]any{"host": b.Host, "port": b.Port, "qos": 1,
			"security": map[string]any{"type": "accessToken", "accessToken": "test-token"}},
		"storage": json.RawMessage(memoryStorage),
		"connectors": []any{map[string]any{"type": "serial", "class": "CustomSerialConnector",
			"name": "Custom serial connector", "configuration": "custom_serial.json"}},
	})
	startGateway(t, dir)
	tb.WaitConnected("SerialDevice1", 20*time.Second)

	dev.Write([]byte("55.5\rSN-4711\n"))
	tb.WaitTelemetry("SerialDevice1", "humidity", func(v any) bool { return v == 55.5 }, 20*time.Second)
	tb.WaitAttribute("SerialDevice1", "SerialNumber", func(v any) bool { return v == "SN-4711" }, 20*time.Second)

	in := bufio.NewReader(dev)
	tb.SetAttributes("SerialDevice1", map[string]any{"attr1": "on"})
	dev.SetReadDeadline(time.Now().Add(15 * time.Second))
	line, err := in.ReadString('\n')
	if err != nil || line != "value = on\n" {
		t.Fatalf("device got %q, %v", line, err)
	}
	go func() {
		b := make([]byte, 1)
		if _, err := in.Read(b); err == nil && b[0] == 7 {
			dev.Write([]byte("ACK\r"))
		}
	}()
	reply, err := tb.RPC("SerialDevice1", "setValue", 7, 15*time.Second)
	if err != nil || string(reply) != `{"result":"ACK"}` {
		t.Fatalf("setValue: %s, %v", reply, err)
	}
}
