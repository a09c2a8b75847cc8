package modbus

import (
	"context"
	"encoding/json"
	"os/exec"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tbgw/tbgw/drivers/drivertest"
	"github.com/tbgw/tbgw/gw/connector"
)

func slaveSection(conn cfgMap) cfgMap {
	s := cfgMap{
		"unitId": 0, "deviceName": "GW Slave", "pollPeriod": 60000, "sendDataToThingsBoard": true,
		"byteOrder": "BIG", "wordOrder": "BIG",
		"identity": cfgMap{"vendorName": "tbgw-vendor", "productCode": "P1", "productName": "gateway"},
		"values": cfgMap{
			"holding_registers": cfgMap{
				"attributes": []any{cfgMap{"address": 1, "type": "string", "tag": "sm", "objectsCount": 1, "value": "ON"}},
				"timeseries": []any{
					cfgMap{"address": 2, "type": "16int", "tag": "smm", "objectsCount": 1, "value": 12334},
					cfgMap{"address": 3, "type": "32float", "tag": "f", "objectsCount": 2, "value": 1.5},
				},
				"attributeUpdates": []any{cfgMap{"tag": "shared_attribute_write", "type": "32int", "functionCode": 16, "objectsCount": 2, "address": 29, "value": 1243}},
				"rpc":              []any{cfgMap{"tag": "setValue", "value": 22, "type": "16int", "address": 31, "objectsCount": 1, "functionCode": 6}},
			},
			"coils_initializer": cfgMap{"timeseries": []any{cfgMap{"address": 5, "type": "bits", "tag": "coil", "objectsCount": 1, "value": 1}}},
			"input_registers":   []any{cfgMap{"timeseries": []any{cfgMap{"address": 0, "type": "16uint", "tag": "ir0", "objectsCount": 1, "value": 7}}}},
			"discrete_inputs":   cfgMap{"timeseries": []any{cfgMap{"address": 0, "type": "bits", "tag": "di0", "objectsCount": 1, "value": true}}},
		},
	}
	for k, v := range conn {
		s[k] = v
	}
	return s
}

func waitDev(t *testing.T, sink *drivertest.Sink, dev, key string, attr bool, want any) {
	t.Helper()
	sink.Wait(t, 15*time.Second, dev+" "+key, func(data []connector.Data) bool {
		v, ok := drivertest.Latest(data, dev, key, attr)
		return ok && reflect.DeepEqual(v, want)
	})
}

var mbpollValue = regexp.MustCompile(`(?m)^\[(\d+)\]:\s+(-?\d+)`)

// mbpoll runs mbpoll once and returns the values it printed by register
// number (1-based, as mbpoll counts).
func mbpoll(t *testing.T, args ...string) map[int]int {
	t.Helper()
	out, err := exec.Command(drivertest.RequireTool(t, "mbpoll"), args...).CombinedOutput()
	if err != nil {
		t.Fatalf("mbpoll %v: %v\n%s", args, err, out)
	}
	m := map[int]int{}
	for _, g := range mbpollValue.FindAllStringSubmatch(string(out), -1) {
		r, _ := strconv.Atoi(g[1])
		v, _ := strconv.Atoi(g[2])
		m[r] = v
	}
	return m
}

func pyClient(t *testing.T, args ...string) map[string]any {
	t.Helper()
	requirePymodbus(t)
	out, err := exec.Command(debianPython, append([]string{"testdata/mbclient.py"}, args...)...).Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("mbclient %v: %v\n%s", args, err, stderr)
	}
	var m map[string]any
	if err := json.Unmarshal(out, &m); err != nil {
		t.Fatalf("mbclient %v: %q", args, out)
	}
	return m
}

func serverAddr(t *testing.T, c *Connector) (string, string) {
	t.Helper()
	var addr string
	waitFor(t, 10*time.Second, "server listening", func() bool { addr = c.plan.server.addr(); return addr != "" })
	i := strings.LastIndex(addr, ":")
	return addr[:i], addr[i+1:]
}

// The slave section over TCP: values follow ThingsBoard attribute updates
// and RPCs, writes by masters (mbpoll, pymodbus) are reported.
func TestSlaveModeTCP(t *testing.T) {
	c := newConnector(t, cfgMap{"slave": slaveSection(cfgMap{"type": "tcp", "host": "127.0.0.1", "port": 0, "method": "socket"})})
	sink := drivertest.NewSink()
	drivertest.Run(t, c, sink)
	host, port := serverAddr(t, c)
	const dev = "GW Slave"
	waitDev(t, sink, dev, "smm", false, int64(12334))
	waitDev(t, sink, dev, "f", false, 1.5)
	waitDev(t, sink, dev, "coil", false, true)
	waitDev(t, sink, dev, "ir0", false, int64(7))
	waitDev(t, sink, dev, "di0", false, true)
	waitDev(t, sink, dev, "sm", true, "ON")

	// mbpoll as master (its register numbers are 1-based).
	if v := mbpoll(t, "-m", "tcp", "-a", "1", "-p", port, "-r", "3", "-c", "1", "-t", "4", "-1", host); v[3] != 12334 {
		t.Errorf("mbpoll read %v", v)
	}
	mbpoll(t, "-m", "tcp", "-a", "1", "-p", port, "-r", "3", "-t", "4", host, "555")
	waitDev(t, sink, dev, "smm", false, int64(555)) // reported without waiting for the poll period

	ctx := context.Background()
	if err := c.OnAttributes(ctx, dev, map[string]any{"shared_attribute_write": 99.0}); err != nil {
		t.Fatal(err)
	}
	if v := mbpoll(t, "-m", "tcp", "-a", "1", "-p", port, "-r", "30", "-c", "2", "-t", "4", "-1", host); v[30] != 0 || v[31] != 99 {
		t.Errorf("attribute update not served: %v", v)
	}
	r, err := c.OnRPC(ctx, connector.RPC{Device: dev, Method: "setValue", Params: json.RawMessage("44")})
	if err != nil || reply(t, r) != `{"result":{"value":44}}` {
		t.Errorf("rpc: %s %v", reply(t, r), err)
	}
	if v := mbpoll(t, "-m", "tcp", "-a", "1", "-p", port, "-r", "32", "-c", "1", "-t", "4", "-1", host); v[32] != 44 {
		t.Errorf("rpc write not served: %v", v)
	}

	// pymodbus as master.
	if v := pyClient(t, host, port, "1", "read_hr", "29", "3"); !reflect.DeepEqual(v["values"], []any{0.0, 99.0, 44.0}) {
		t.Errorf("pymodbus read %v", v)
	}
	pyClient(t, host, port, "1", "write_co", "5", "0")
	waitDev(t, sink, dev, "coil", false, false)
	pyClient(t, host, port, "1", "write_hr", "3", "16320", "0") // 1.5 again (0x3FC0 0x0000)
	if v := pyClient(t, host, port, "1", "read_hr", "100", "1"); v["exception"] != 2.0 {
		t.Errorf("unconfigured register: %v", v)
	}
	if v := pyClient(t, host, port, "1", "read_ir", "0", "1"); !reflect.DeepEqual(v["values"], []any{7.0}) {
		t.Errorf("input register %v", v)
	}
	if v := pyClient(t, host, port, "1", "devid"); !reflect.DeepEqual(v["objects"], map[string]any{"0": "tbgw-vendor", "1": "P1", "2": "tbgw"}) {
		t.Errorf("device identification %v", v)
	}
	pyClient(t, host, port, "1", "write_hr", "3", "16456", "62915") // 3.14 as 32float (0x4048F5C3)
	waitDev(t, sink, dev, "f", false, 3.14)
}

// The slave section on a serial line (RTU over a pty pair), with mbpoll.
func TestSlaveModeRTU(t *testing.T) {
	srv, cli := ptyPair(t)
	c := newConnector(t, cfgMap{"slave": slaveSection(cfgMap{"type": "serial", "port": srv, "method": "rtu", "baudrate": 19200, "unitId": 3})})
	sink := drivertest.NewSink()
	drivertest.Run(t, c, sink)
	const dev = "GW Slave"
	waitDev(t, sink, dev, "smm", false, int64(12334))
	rtu := func(args ...string) map[int]int {
		return mbpoll(t, append([]string{"-m", "rtu", "-a", "3", "-b", "19200", "-P", "none", "-o", "2"}, args...)...)
	}
	if v := rtu("-r", "3", "-c", "1", "-t", "4", "-1", cli); v[3] != 12334 {
		t.Errorf("mbpoll rtu read %v", v)
	}
	rtu("-r", "3", "-t", "4", cli, "65529")
	waitDev(t, sink, dev, "smm", false, int64(-7))
	if v := rtu("-r", "6", "-c", "1", "-t", "0", "-1", cli); v[6] != 1 {
		t.Errorf("coil %v", v)
	}
}

// An upstream sample's slave section with sendDataToThingsBoard false is
// checked but not served.
func TestSlaveModeNotStarted(t *testing.T) {
	c := newConnector(t, cfgMap{"slave": slaveSection(cfgMap{"type": "tcp", "host": "127.0.0.1", "port": 0, "method": "socket", "sendDataToThingsBoard": false})})
	if c.plan.server != nil || len(c.devices) != 0 {
		t.Fatal("server compiled although sendDataToThingsBoard is false")
	}
	_, _, err := newWithLog(t, `{"slave":{"type":"tcp","port":0,"method":"socket","sendDataToThingsBoard":false,
		"values":{"holding_registers":{"timeseries":[{"address":1,"type":"48int","tag":"x","value":1}]}}}}`)
	if err == nil {
		t.Fatal("bad slave section accepted")
	}
}

// A device refusing a combined read (exception 2 for the unused register
// between two tags) is then read tag by tag; the slave section (sparse,
// like pymodbus' sparse block) is the peer.
func TestCoalescingFallback(t *testing.T) {
	s := newConnector(t, cfgMap{"slave": slaveSection(cfgMap{"type": "tcp", "host": "127.0.0.1", "port": 0, "method": "socket"})})
	drivertest.Run(t, s, drivertest.NewSink())
	_, port := serverAddr(t, s)
	p, _ := strconv.Atoi(port)
	c := newConnector(t, cfgMap{"master": cfgMap{"slaves": []any{cfgMap{
		"host": "127.0.0.1", "port": p, "type": "tcp", "method": "socket", "unitId": 1, "deviceName": "F",
		"pollPeriod": 100, "byteOrder": "BIG", "wordOrder": "BIG", "timeout": 2, "coalesce": cfgMap{"maxGap": 30},
		"timeseries": []any{
			cfgMap{"tag": "sm", "type": "string", "functionCode": 3, "address": 1},
			cfgMap{"tag": "smm", "type": "16int", "functionCode": 3, "address": 2},
			cfgMap{"tag": "w", "type": "32int", "functionCode": 3, "address": 29, "objectsCount": 2},
		}}}}})
	if n := len(c.devices[0].blocks); n != 1 {
		t.Fatalf("%d requests planned, want 1 (gap 30)", n)
	}
	sink := drivertest.NewSink()
	drivertest.Run(t, c, sink)
	waitDev(t, sink, "F", "w", false, int64(1243))
	waitDev(t, sink, "F", "smm", false, int64(12334))
	waitDev(t, sink, "F", "sm", false, "ON")
	if n := len(c.devices[0].blocks); n != 3 {
		t.Fatalf("%d requests after the refusal, want 3", n)
	}
}
