package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/tbgw/tbgw/gw"
	"github.com/tbgw/tbgw/gw/tbtest"
)

// `run -once` with the upstream MQTT connector sample against a real
// mosquitto: the device's first message comes out as the telemetry and
// attributes the gateway would publish, and the command exits. ThingsBoard
// is not needed (the configured one does not exist).
func TestDryRunOnceMQTT(t *testing.T) {
	devBroker := tbtest.StartMosquitto(t)
	raw, err := os.ReadFile(filepath.Join("testdata", "upstream", "mqtt.json"))
	if err != nil {
		t.Fatal(err)
	}
	var mqttCfg map[string]any
	if err := json.Unmarshal(raw, &mqttCfg); err != nil {
		t.Fatal(err)
	}
	broker := mqttCfg["broker"].(map[string]any)
	broker["host"], broker["port"] = devBroker.Host, devBroker.Port
	broker["clientId"] = "tbgw-dry-run"
	dir := t.TempDir()
	writeJSON(t, filepath.Join(dir, "mqtt.json"), mqttCfg)
	writeJSON(t, filepath.Join(dir, "tb_gateway.json"), map[string]any{
		"thingsboard": map[string]any{"host": "thingsboard.invalid", "port": 1883},
		"storage":     map[string]any{"type": "file", "data_folder_path": "./data/"},
		"connectors":  []any{map[string]any{"type": "mqtt", "name": "MQTT Broker Connector", "configuration": "mqtt.json"}},
	})

	var stdout, stderr bytes.Buffer
	done := make(chan int, 1)
	go func() { done <- run([]string{"run", "-once", "-timeout", "60s", "-c", dir}, &stdout, &stderr) }()

	dev := paho.NewClient(paho.NewClientOptions().AddBroker("tcp://" + devBroker.Addr()).SetClientID("dry-run-device"))
	if tok := dev.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("device connect: %v", tok.Error())
	}
	defer dev.Disconnect(100)
	// The connector subscribes at start: publish until the dry run ends.
	var code int
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
wait:
	for {
		select {
		case code = <-done:
			break wait
		case <-tick.C:
			dev.Publish("data/", 1, false, `{"temperature": 25.5, "humidity": 60, "relay": true, "power": 3.2, "frequency": 50}`)
		case <-time.After(90 * time.Second):
			t.Fatal("run -once did not return")
		}
	}
	if code != exitOK {
		t.Fatalf("exit %d\n%s", code, stderr.String())
	}
	var telemetry, attributes bool
	for _, l := range dryRunLines(t, stdout.String()) {
		switch l.Topic {
		case gw.TopicTelemetry:
			telemetry = telemetry || strings.Contains(string(l.Payload), `"Demo Device":[{"ts":`) && strings.Contains(string(l.Payload), `"temperature":25.5`)
		case gw.TopicAttributes:
			attributes = attributes || strings.Contains(string(l.Payload), `"frequency":50`)
		}
	}
	if !telemetry || !attributes {
		t.Fatalf("telemetry %v, attributes %v in:\n%s", telemetry, attributes, stdout.String())
	}
	if _, err := os.Stat(filepath.Join(dir, "data")); !os.IsNotExist(err) {
		t.Errorf("dry run wrote the storage: %v", err)
	}
	t.Logf("dry run output:\n%s", stdout.String())
}
