package main

import (
	"encoding/json"
	"fmt"
	"os"
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

// pyconvEnv points tbgw at the shipped extension host and the example
// converters.
func pyconvEnv(t *testing.T) {
	t.Helper()
	py, err := exec.LookPath("/usr/bin/python3")
	drivertest.RequirePeer(t, err == nil, "python3")
	ext, _ := filepath.Abs("extensions")
	t.Setenv("TBGW_PYTHON", py)
	t.Setenv("TBGW_PYTHON_HOST", filepath.Join(ext, "tbgw_host.py"))
	t.Setenv("TBGW_PYTHON_EXTENSIONS", filepath.Join(ext, "examples"))
}

// pyconvGateway runs the gateway with one connector of type typ whose
// configuration is cfg, against a ThingsBoard stand-in.
func pyconvGateway(t *testing.T, typ string, cfg map[string]any) *tbtest.ThingsBoard {
	t.Helper()
	b := tbtest.StartBroker(t)
	tb := tbtest.NewThingsBoard(t, b.Host, b.Port)
	dir := t.TempDir()
	writeJSON(t, filepath.Join(dir, typ+".json"), cfg)
	writeJSON(t, filepath.Join(dir, "tb_gateway.json"), map[string]any{
		"thingsboard": map[string]any{"host": b.Host, "port": b.Port, "security": map[string]any{"accessToken": "t"}},
		"storage":     json.RawMessage(memoryStorage),
		"connectors":  []any{map[string]any{"type": typ, "name": typ, "configuration": typ + ".json"}},
	})
	startGateway(t, dir)
	return tb
}

// An SNMP device whose "converter" names an upstream-style Python class:
// net-snmp's snmpd answers, the class gets convert(device, {key: value})
// as from upstream's SNMP connector.
func TestE2ESNMPPythonConverter(t *testing.T) {
	pyconvEnv(t)
	snmpd := "/usr/sbin/snmpd"
	_, err := os.Stat(snmpd)
	drivertest.RequirePeer(t, err == nil, "net-snmp (snmpd)")
	dir := t.TempDir()
	port := drivertest.FreeUDPPort(t)
	conf := fmt.Sprintf("agentAddress udp:127.0.0.1:%d\nrocommunity public 127.0.0.1\nsysName probe-snmpd\n", port)
	if err := os.WriteFile(filepath.Join(dir, "snmpd.conf"), []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	drivertest.StartProcess(t, []string{"MIBS=", "SNMP_PERSISTENT_DIR=" + filepath.Join(dir, "persist"), "HOME=" + dir},
		snmpd, "-f", "-Lf", filepath.Join(dir, "snmpd.log"), "-C", "-c", filepath.Join(dir, "snmpd.conf"),
		"-p", filepath.Join(dir, "snmpd.pid"))

	tb := pyconvGateway(t, "snmp", map[string]any{"devices": []any{map[string]any{
		"deviceName": "Py SNMP", "deviceType": "snmp", "ip": "127.0.0.1", "port": port, "community": "public",
		"pollPeriod": 500, "converter": "DemoSNMPUplinkConverter",
		"attributes": []any{map[string]any{"key": "name", "method": "get", "oid": "1.3.6.1.2.1.1.5.0"}},
		"telemetry": []any{
			map[string]any{"key": "uptime", "method": "get", "oid": "1.3.6.1.2.1.1.3.0"},
			map[string]any{"key": "system", "method": "walk", "oid": "1.3.6.1.2.1.1"},
		},
	}}})
	// The class upper-cases strings and counts a walk's rows.
	tb.WaitAttribute("Py SNMP", "name", func(v any) bool { return v == "PROBE-SNMPD" }, 30*time.Second)
	tb.Wait(30*time.Second, "converted telemetry", func() bool {
		up, ok1 := tb.Latest("Py SNMP", "uptime")
		n, ok2 := tb.Latest("Py SNMP", "system")
		u, _ := up.(float64)
		rows, _ := n.(float64)
		return ok1 && ok2 && u >= 0 && rows > 3
	})
}
