package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
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

// A Modbus slave whose uplink_converter names an upstream-style Python
// class: libmodbus answers (holding register i = i, coil i = i odd), the
// class gets convert({}, [{"telemetry": {tag: [response]}, ...}]) with
// pymodbus-like responses, an exception answer included.
func TestE2EModbusPythonConverter(t *testing.T) {
	pyconvEnv(t)
	bin := filepath.Join(drivertest.CacheDir(t), "modbus", "lmbslave")
	_, err := os.Stat(bin)
	drivertest.RequirePeer(t, err == nil, "libmodbus slave (scripts/peers/modbus.sh builds "+bin+")")
	slave := drivertest.StartProcess(t, nil, bin, "tcp", "0")
	var port int
	fmt.Sscanf(slave.Line(10*time.Second, func(l string) bool { return strings.HasPrefix(l, "READY") }), "READY %d", &port)

	tb := pyconvGateway(t, "modbus", map[string]any{"master": map[string]any{"slaves": []any{map[string]any{
		"type": "tcp", "host": "127.0.0.1", "port": port, "method": "socket", "timeout": 5,
		"unitId": 1, "deviceName": "Py Modbus", "deviceType": "meter", "pollPeriod": 500,
		"uplink_converter": "DemoModbusUplinkConverter", "downlink_converter": "DemoModbusDownlinkConverter",
		"attributeUpdates": []any{map[string]any{"tag": "setpoint", "type": "16uint", "functionCode": 6, "objectsCount": 1, "address": 20}},
		"rpc":              []any{map[string]any{"tag": "setCoil", "type": "bits", "functionCode": 5, "objectsCount": 1, "address": 8}},
		"attributes":       []any{map[string]any{"tag": "on", "type": "bits", "functionCode": 1, "address": 3, "objectsCount": 1}},
		"timeseries": []any{
			// "scale" is the converter's own key: tbgw passes the slave's
			// configuration as written.
			map[string]any{"tag": "power", "type": "32uint", "functionCode": 3, "address": 10, "objectsCount": 2, "scale": 2},
			map[string]any{"tag": "missing", "type": "16uint", "functionCode": 3, "address": 5000, "objectsCount": 1},
		},
	}}}})
	tb.WaitAttribute("Py Modbus", "on", func(v any) bool { return v == 1.0 }, 30*time.Second)
	tb.Wait(30*time.Second, "the converted registers", func() bool {
		v, ok := tb.Latest("Py Modbus", "power")
		return ok && v == float64((10<<16|11)*2)
	})
	if _, ok := tb.Latest("Py Modbus", "missing"); ok {
		t.Error("an exception answer became a value")
	}
	// The downlink converter (value + 1 into registers, coils as given)
	// decides what is written; libmodbus reports each write.
	tb.SetAttributes("Py Modbus", map[string]any{"setpoint": 41})
	slave.Line(15*time.Second, func(l string) bool { return l == "W 6 20 42" })
	if _, err := tb.RPC("Py Modbus", "setCoil", 1, 15*time.Second); err != nil {
		t.Fatalf("setCoil: %v", err)
	}
	slave.Line(15*time.Second, func(l string) bool { return l == "W 5 8 1" })
}

// An OPC-UA mapping whose "converter" names an upstream-style Python
// class: node-opcua serves the values, the class gets convert(configs,
// values) with asyncua-like DataValues, one instance per device.
func TestE2EOPCUAPythonConverter(t *testing.T) {
	pyconvEnv(t)
	mods := drivertest.NodeModules(t, "opcua", "node-opcua-server")
	node := drivertest.RequireTool(t, "node")
	port := drivertest.FreePort(t)
	pki := t.TempDir()
	srv := drivertest.StartProcess(t, []string{"NODE_PATH=" + mods, "HOME=" + pki}, node,
		"--security-revert=CVE-2023-46809", filepath.Join("drivers", "opcua", "testdata", "server.js"), fmt.Sprint(port), pki)
	srv.Line(180*time.Second, func(l string) bool { return strings.HasPrefix(l, "listening") })

	tb := pyconvGateway(t, "opcua", map[string]any{
		"server": map[string]any{"url": fmt.Sprintf("opc.tcp://127.0.0.1:%d", port), "timeoutInMillis": 10000,
			"scanPeriodInMillis": 60000, "pollPeriodInMillis": 500, "enableSubscriptions": false,
			"identity": map[string]any{"type": "anonymous"}},
		"mapping": []any{map[string]any{
			"deviceNodeSource": "path", "deviceNodePattern": `Root\.Objects\.MyObject`,
			"deviceInfo": map[string]any{"deviceNameExpression": "Py OPC-UA", "deviceNameExpressionSource": "constant",
				"deviceProfileExpression": "plc", "deviceProfileExpressionSource": "constant"},
			"converter":  "DemoOpcUaUplinkConverter",
			"attributes": []any{map[string]any{"key": "text", "type": "path", "value": "${Text}"}},
			"timeseries": []any{
				map[string]any{"key": "temperature", "type": "path", "value": "${Temperature}", "timestampLocation": "sourceTimestamp"},
				map[string]any{"key": "counter", "type": "path", "value": "${Counter}"},
			},
		}},
	})
	// The class doubles doubles and suffixes keys with the variant type.
	tb.WaitAttribute("Py OPC-UA", "text_string", func(v any) bool { return v == "hello" }, 60*time.Second)
	tb.Wait(60*time.Second, "converted telemetry", func() bool {
		temp, ok1 := tb.Latest("Py OPC-UA", "temperature_double")
		_, ok2 := tb.Latest("Py OPC-UA", "counter_int32")
		f, isNum := temp.(float64)
		return ok1 && ok2 && isNum && f != 0
	})
}

// A serial line-protocol connector written in upstream's interface
// (extensions/examples/serial, pyserial) run by the extension host under
// the exec connector, with upstream's custom_serial.json unchanged but
// for the port: a socat pty pair plays the device, and the port is
// unplugged and plugged back.
func TestE2EPythonSerialConnector(t *testing.T) {
	py, err := exec.LookPath("/usr/bin/python3")
	drivertest.RequirePeer(t, err == nil, "python3")
	_, err = os.Stat("/usr/lib/python3/dist-packages/serial/__init__.py")
	drivertest.RequirePeer(t, err == nil, "pyserial (python3-serial, scripts/peers/exec.sh)")
	socat := drivertest.RequireTool(t, "socat")
	ext, _ := filepath.Abs("extensions")
	dir := t.TempDir()
	devPath, gwPath := filepath.Join(dir, "dev"), filepath.Join(dir, "ttyGW")
	plug := func() (*drivertest.Process, *os.File) {
		p := drivertest.StartProcess(t, nil, socat, "pty,raw,echo=0,link="+devPath, "pty,raw,echo=0,link="+gwPath)
		drivertest.Eventually(t, 10*time.Second, "socat ptys", func() bool {
			_, e1 := os.Stat(devPath)
			_, e2 := os.Stat(gwPath)
			return e1 == nil && e2 == nil
		})
		dev, err := os.OpenFile(devPath, os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { dev.Close() })
		return p, dev
	}
	socatProc, dev := plug()

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
		"storage":    json.RawMessage(memoryStorage),
		"connectors": []any{map[string]any{"type": "exec", "name": "Custom serial connector", "configuration": "serial_host.json"}},
	})
	writeJSON(t, filepath.Join(dir, "serial_host.json"), map[string]any{
		"command": []string{py, filepath.Join(ext, "tbgw_host.py")},
		"config": map[string]any{"type": "serial", "class": "CustomSerialConnector",
			"configuration":  filepath.Join(dir, "custom_serial.json"),
			"extensionsPath": []string{filepath.Join(ext, "examples")}}})
	startGateway(t, dir)
	tb.WaitConnected("SerialDevice1", 20*time.Second)

	// Until the port is open, what the device writes is lost: write until
	// the value arrives.
	tb.Wait(30*time.Second, "telemetry from the serial device", func() bool {
		dev.Write([]byte("55.5\rSN-4711\n"))
		return tb.Await(300*time.Millisecond, func() bool {
			v, ok := tb.Latest("SerialDevice1", "humidity")
			return ok && v == 55.5
		})
	})
	tb.WaitAttribute("SerialDevice1", "SerialNumber", func(v any) bool { return v == "SN-4711" }, 20*time.Second)

	// Drain what the retries left, then the attribute update.
	in := bufio.NewReader(dev)
	tb.SetAttributes("SerialDevice1", map[string]any{"attr1": "on"})
	dev.SetReadDeadline(time.Now().Add(15 * time.Second))
	line, err := in.ReadString('\n')
	if err != nil || line != "value = on\n" {
		t.Fatalf("device got %q, %v", line, err)
	}
	dev.SetReadDeadline(time.Time{})
	// RPC with a response: the int 7 goes out as one byte, "ACK\r" comes back.
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

	// Unplug (socat gone, ptys removed) and plug back: the connector opens
	// the port again.
	socatProc.Kill()
	dev.Close()
	drivertest.Eventually(t, 10*time.Second, "ptys removed", func() bool {
		_, err := os.Stat(gwPath)
		return os.IsNotExist(err)
	})
	_, dev = plug()
	tb.Wait(40*time.Second, "telemetry after replug", func() bool {
		dev.Write([]byte("66.5\rSN-4711\n"))
		return tb.Await(300*time.Millisecond, func() bool {
			v, ok := tb.Latest("SerialDevice1", "humidity")
			return ok && v == 66.5
		})
	})
}

// A BACnet device whose uplink_converter names an upstream-style Python
// class: the @bacnet-js peer answers, the class gets convert(items,
// values) with (object id, property, index, value) tuples.
func TestE2EBACnetPythonConverter(t *testing.T) {
	pyconvEnv(t)
	mods := drivertest.NodeModules(t, "bacnet", "@bacnet-js/client")
	node := drivertest.RequireTool(t, "node")
	port := drivertest.FreeUDPPort(t)
	peerCfg, _ := json.Marshal(map[string]any{"changeMs": 100, "devices": []any{
		map[string]any{"port": port, "instance": 1001, "name": "Boiler", "analogInputs": 2}}})
	peer := drivertest.StartProcess(t, []string{"NODE_PATH=" + mods}, node,
		filepath.Join("drivers", "bacnet", "testdata", "peer.js"), string(peerCfg))
	peer.Line(30*time.Second, func(l string) bool { return strings.HasPrefix(l, fmt.Sprintf("ready %d", port)) })

	tb := pyconvGateway(t, "bacnet", map[string]any{
		"application": map[string]any{"objectName": "TB_gateway", "host": "127.0.0.1", "port": 0, "mask": "8",
			"objectIdentifier": 599, "maxApduLengthAccepted": 1476, "segmentationSupported": "segmentedBoth",
			"vendorIdentifier": 15, "devicesDiscoverPeriodSeconds": 1, "apduTimeout": 1000, "numberOfApduRetries": 1},
		"devices": []any{map[string]any{
			"deviceInfo": map[string]any{"deviceNameExpression": "Py BACnet ${objectName}", "deviceProfileExpression": "ahu",
				"deviceProfileExpressionSource": "constant"},
			"host": "127.0.0.1", "port": fmt.Sprint(port), "pollPeriod": 300,
			"uplink_converter": "DemoBACnetUplinkConverter",
			"attributes":       []any{map[string]any{"key": "name", "objectType": "analogInput", "objectId": 1, "propertyId": "objectName"}},
			"timeseries":       []any{map[string]any{"key": "temp", "objectType": "analogInput", "objectId": 0, "propertyId": "presentValue"}},
		}},
	})
	// The class keys by key and property, and scales floats by 10.
	dev := "Py BACnet Boiler"
	tb.WaitAttribute(dev, "name_objectName", func(v any) bool { return v == "AI 1" }, 60*time.Second)
	tb.Wait(60*time.Second, "converted telemetry", func() bool {
		v, ok := tb.Latest(dev, "temp_presentValue")
		f, _ := v.(float64)
		return ok && f >= 200 // the peer's temperatures start at 20
	})
}
