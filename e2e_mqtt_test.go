package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/tbgw/tbgw/gw/tbtest"
)

// TestE2EMQTTUpstreamSample runs the gateway with the upstream mqtt.json,
// unchanged but for the device broker's address, between a real mosquitto
// (the device broker) and the ThingsBoard stand-in, and follows data up and
// commands down.
func TestE2EMQTTUpstreamSample(t *testing.T) {
	devBroker := tbtest.StartMosquitto(t)
	b := tbtest.StartBroker(t)
	tb := tbtest.NewThingsBoard(t, b.Host, b.Port)

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
	broker["clientId"] = "tbgw-e2e"

	dir := t.TempDir()
	writeJSON(t, filepath.Join(dir, "mqtt.json"), mqttCfg)
	writeJSON(t, filepath.Join(dir, "tb_gateway.json"), map[string]any{
		"thingsboard": map[string]any{"host": b.Host, "port": b.Port, "security": map[string]any{"accessToken": "t"}},
		"storage":     map[string]any{"type": "file", "data_folder_path": "./data/"},
		"connectors":  []any{map[string]any{"type": "mqtt", "name": "MQTT Broker Connector", "configuration": "mqtt.json"}},
	})
	startGateway(t, dir)

	dev := paho.NewClient(paho.NewClientOptions().AddBroker("tcp://" + devBroker.Addr()).SetClientID("e2e-device"))
	if tok := dev.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("device connect: %v", tok.Error())
	}
	defer dev.Disconnect(100)
	received := make(chan paho.Message, 64)
	dev.Subscribe("sensor/request/#", 1, func(_ paho.Client, m paho.Message) { received <- m }).Wait()
	// A device that answers the two-way RPC getRelay.
	dev.Subscribe("sensor/+/request/getRelay/+", 1, func(c paho.Client, m paho.Message) {
		c.Publish(strings.Replace(m.Topic(), "/request/", "/response/", 1), 1, false, `{"relay": "on"}`)
	}).Wait()
	pub := func(topic, payload string) {
		t.Helper()
		if tok := dev.Publish(topic, 1, false, payload); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			t.Fatalf("publish %s: %v", topic, tok.Error())
		}
	}
	// The gateway's connector must be subscribed before the device publishes:
	// publish until the first value arrives.
	tb.Wait(20*time.Second, "first mapping delivered", func() bool {
		pub("data/", `{"temperature": 25.5, "humidity": 60, "relay": true, "power": 3.2, "frequency": 50}`)
		_, ok := tb.Latest("Demo Device", "temperature")
		return ok || tb.Await(500*time.Millisecond, func() bool { _, ok := tb.Latest("Demo Device", "temperature"); return ok })
	})
	tb.WaitAttribute("Demo Device", "frequency", func(v any) bool { return v == 50.0 }, 10*time.Second)

	// Device name from the topic with the upstream look-around expression.
	pub("sensor/SN-4711/data", `{"sensorModel": "T1000", "temp": 21.7, "hum": 40}`)
	tb.WaitConnected("SN-4711", 10*time.Second)
	tb.WaitAttribute("SN-4711", "model", func(v any) bool { return v == "T1000" }, 10*time.Second)

	// Commands down. A shared attribute update matching attributeFilter "relay":
	tb.SetAttributes("SN-4711", map[string]any{"relay": true})
	expect := func(topic, payload string) {
		t.Helper()
		select {
		case m := <-received:
			if m.Topic() != topic || string(m.Payload()) != payload {
				t.Fatalf("device got %s %s, want %s %s", m.Topic(), m.Payload(), topic, payload)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("nothing reached the device broker, want %s %s", topic, payload)
		}
	}
	expect("sensor/request/setRelay", "true")

	// One-way RPC setRelay.
	reply, err := tb.RPC("SN-4711", "setRelay", map[string]any{"on": false}, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	assertJSON(t, reply, `{"success":true}`)
	expect("sensor/request/setRelay", `{"on":false}`)

	// Two-way RPC getRelay, answered by the device.
	reply, err = tb.RPC("SN-4711", "getRelay", nil, 15*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(reply), "on") {
		t.Fatalf("two-way RPC reply %s", reply)
	}

	// Connect request by topic.
	pub("sensor/SN-0001/connect", "")
	tb.WaitConnected("SN-0001", 10*time.Second)
}
