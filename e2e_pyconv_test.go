package main

import (
	"encoding/json"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/tbgw/tbgw/drivers/drivertest"
	"github.com/tbgw/tbgw/gw/tbtest"
)

// An MQTT mapping whose custom converter names a Python class in
// upstream's style: the message goes through the shared Python converter
// host and on to ThingsBoard.
func TestE2EMQTTPythonConverter(t *testing.T) {
	py, err := exec.LookPath("/usr/bin/python3")
	drivertest.RequirePeer(t, err == nil, "python3")
	ext, _ := filepath.Abs("extensions")
	t.Setenv("TBGW_PYTHON", py)
	t.Setenv("TBGW_PYTHON_HOST", filepath.Join(ext, "tbgw_host.py"))
	t.Setenv("TBGW_PYTHON_EXTENSIONS", filepath.Join(ext, "examples"))

	devBroker := tbtest.StartMosquitto(t)
	b := tbtest.StartBroker(t)
	tb := tbtest.NewThingsBoard(t, b.Host, b.Port)
	dir := t.TempDir()
	writeJSON(t, filepath.Join(dir, "mqtt.json"), map[string]any{
		"broker": map[string]any{"host": devBroker.Host, "port": devBroker.Port, "clientId": "tbgw-pyconv"},
		"mapping": []any{map[string]any{"topicFilter": "py/+", "subscriptionQos": 1,
			"converter": map[string]any{"type": "custom", "extension": "DemoMqttUplinkConverter",
				"extensionConfig": map[string]any{"scale": 10}}}},
	})
	writeJSON(t, filepath.Join(dir, "tb_gateway.json"), map[string]any{
		"thingsboard": map[string]any{"host": b.Host, "port": b.Port, "security": map[string]any{"accessToken": "t"}},
		"storage":     json.RawMessage(memoryStorage),
		"connectors":  []any{map[string]any{"type": "mqtt", "name": "MQTT", "configuration": "mqtt.json"}},
	})
	startGateway(t, dir)

	dev := paho.NewClient(paho.NewClientOptions().AddBroker("tcp://" + devBroker.Addr()).SetClientID("pyconv-device"))
	if tok := dev.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("device connect: %v", tok.Error())
	}
	defer dev.Disconnect(100)
	// Publish until the connector has subscribed and the value arrives.
	tb.Wait(30*time.Second, "the Python-converted value", func() bool {
		dev.Publish("py/Py Sensor", 1, false, `{"values":{"t":2.5},"fw":"9.1"}`).WaitTimeout(5 * time.Second)
		return tb.Await(200*time.Millisecond, func() bool {
			v, ok := tb.Latest("Py Sensor", "t")
			return ok && v == 25.0
		})
	})
	tb.WaitAttribute("Py Sensor", "fw", func(v any) bool { return v == "9.1" }, 20*time.Second)
}
