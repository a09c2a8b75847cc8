package modbus

import (
	"encoding/json"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/tbgw/tbgw/drivers/drivertest"
	"github.com/tbgw/tbgw/gw/connector"
)

// typeCase is one value the peer encodes with pymodbus' builder and the
// connector must decode to want.
type typeCase struct {
	typ   string // upstream type name
	build string // pymodbus builder type
	count int
	value any
	want  any
}

var typeCases = []typeCase{
	{"8int", "8int", 1, -18, int64(-18)},
	{"8uint", "8uint", 1, 18, int64(18)},
	{"16int", "16int", 1, -22136, int64(-22136)},
	{"16uint", "16uint", 1, 4660, int64(4660)},
	{"16float", "16float", 1, 1.24, 1.240234},
	{"32int", "32int", 2, 305419896, int64(305419896)},
	{"int", "32int", 2, -4660, int64(-4660)},
	{"32uint", "32uint", 2, 305419896, int64(305419896)},
	{"32float", "32float", 2, 12.34, 12.34},
	{"64int", "64int", 4, -3735928559, int64(-3735928559)},
	{"64uint", "64uint", 4, uint64(1311768468603649775), int64(1311768468603649775)},
	{"64float", "64float", 4, -123.45, -123.45},
	{"double", "64float", 4, 1234.5678901, 1234.56789}, // rounded to 6 decimals
	{"string", "string", 3, "abcdef", "abcdef"},
}

var orders = [][2]string{{"BIG", "BIG"}, {"BIG", "LITTLE"}, {"LITTLE", "BIG"}, {"LITTLE", "LITTLE"}}

type cfgMap = map[string]any

// typesSetup builds the peer layout and the connector slaves: one device
// per byte/word order, each reading every type from holding registers
// (telemetry) and input registers (attributes) at its own addresses.
func typesSetup(conn cfgMap) (layout cfgMap, slaves []any) {
	var values []any
	for oi, o := range orders {
		base := 100 * oi
		var tele, attrs []any
		addr := base
		for _, c := range typeCases {
			for _, table := range []string{"hr", "ir"} {
				values = append(values, cfgMap{"table": table, "address": addr, "type": c.build, "value": c.value,
					"byteorder": o[0], "wordorder": o[1]})
			}
			tele = append(tele, cfgMap{"tag": c.typ + "_" + c.build, "type": c.typ, "functionCode": 3, "address": addr, "objectsCount": c.count})
			attrs = append(attrs, cfgMap{"tag": c.typ + "_" + c.build, "type": c.typ, "functionCode": 4, "address": addr, "objectsCount": c.count})
			addr += c.count
		}
		s := cfgMap{"unitId": 1 + oi, "deviceName": "D-" + o[0] + "-" + o[1], "pollPeriod": 200, "byteOrder": o[0], "wordOrder": o[1],
			"timeout": 2, "retries": 1, "connectAttemptTimeMs": 500, "timeseries": tele, "attributes": attrs}
		if oi == 0 {
			// Scaling, and coils and discrete inputs with upstream's bit order.
			tele = append(tele,
				cfgMap{"tag": "scaled", "type": "16int", "functionCode": 3, "address": base + 2, "divider": 10},
				cfgMap{"tag": "multiplied", "type": "16uint", "functionCode": 3, "address": base + 3, "multiplier": 2},
				cfgMap{"tag": "coils8", "type": "bits", "functionCode": 1, "address": 0, "objectsCount": 8},
				cfgMap{"tag": "coil0", "type": "bits", "functionCode": 1, "address": 0, "objectsCount": 1},
				cfgMap{"tag": "inputs16", "type": "bits", "functionCode": 2, "address": 0, "objectsCount": 16, "bitTargetType": "int"},
				cfgMap{"tag": "bit9", "type": "bits", "functionCode": 2, "address": 0, "objectsCount": 16, "bit": 9},
				cfgMap{"tag": "state", "type": "16uint", "functionCode": 3, "address": base + 3, "variants": cfgMap{"4660": "running"}},
			)
			s["timeseries"] = tele
		}
		for k, v := range conn {
			s[k] = v
		}
		slaves = append(slaves, s)
	}
	pattern := []bool{true, false, true, true, false, false, false, true, false, true, true, false, true, false, false, true}
	layout = cfgMap{"units": []int{1, 2, 3, 4}, "values": values,
		"bits": []any{cfgMap{"table": "co", "address": 0, "values": pattern}, cfgMap{"table": "di", "address": 0, "values": pattern}}}
	return layout, slaves
}

var extraWant = map[string]any{
	"scaled":     -2213.6,
	"multiplied": int64(9320),
	"coils8":     json.RawMessage(`[true,false,false,false,true,true,false,true]`),
	"coil0":      true,
	"inputs16":   json.RawMessage(`[1,0,0,0,1,1,0,1,1,0,0,1,0,1,1,0]`),
	"bit9":       int64(0),
	"state":      "running",
}

func newConnector(t testing.TB, cfg any) *Connector {
	t.Helper()
	raw, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	c, err := New(raw, drivertest.Env(t, "Modbus", "modbus"))
	if err != nil {
		t.Fatalf("New: %v\n%s", err, raw)
	}
	return c.(*Connector)
}

// checkTypes waits for every device of typesSetup and compares values.
func checkTypes(t *testing.T, sink *drivertest.Sink, withExtras bool) {
	t.Helper()
	for _, o := range orders {
		dev := "D-" + o[0] + "-" + o[1]
		sink.Wait(t, 20*time.Second, "values of "+dev, func(data []connector.Data) bool {
			for _, c := range typeCases {
				if _, ok := drivertest.Latest(data, dev, c.typ+"_"+c.build, false); !ok {
					return false
				}
				if _, ok := drivertest.Latest(data, dev, c.typ+"_"+c.build, true); !ok {
					return false
				}
			}
			return true
		})
		for _, c := range typeCases {
			for _, attr := range []bool{false, true} {
				got, _ := sink.Latest(dev, c.typ+"_"+c.build, attr)
				if !reflect.DeepEqual(got, c.want) {
					t.Errorf("%s %s (attr %v): got %#v, want %#v", dev, c.typ, attr, got, c.want)
				}
			}
		}
	}
	if !withExtras {
		return
	}
	sink.Wait(t, 10*time.Second, "extras", func(data []connector.Data) bool {
		_, ok := drivertest.Latest(data, "D-BIG-BIG", "state", false)
		return ok
	})
	for k, want := range extraWant {
		got, _ := sink.Latest("D-BIG-BIG", k, false)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: got %s, want %s", k, show(got), show(want))
		}
	}
}

func show(v any) string {
	b, _ := json.Marshal(v)
	return fmt.Sprintf("%T %s", v, b)
}

// Every type in every byte/word order, written by pymodbus' payload
// builder, over TCP; neighbouring tags are read in one request.
func TestPymodbusTCPTypes(t *testing.T) {
	port := drivertest.FreePort(t)
	layout, slaves := typesSetup(cfgMap{"host": "127.0.0.1", "port": port, "type": "tcp", "method": "socket"})
	startPymodbus(t, "tcp", "127.0.0.1", port, layout)
	c := newConnector(t, cfgMap{"master": cfgMap{"slaves": slaves}})
	for _, d := range c.devices {
		if n := len(d.blocks); n > 5 {
			t.Errorf("%s: %d requests per poll", d.def.name, n)
		}
	}
	sink := drivertest.NewSink()
	drivertest.Run(t, c, sink)
	checkTypes(t, sink, true)
	if len(c.masters) != 1 {
		t.Errorf("%d connections for one endpoint", len(c.masters))
	}
	// The poller announces a device up after the poll that delivered its
	// data: wait for the connects rather than expect them with the data.
	connected := func() bool {
		for _, o := range orders {
			found := false
			for _, d := range sink.Connects() {
				found = found || d == "D-"+o[0]+"-"+o[1]
			}
			if !found {
				return false
			}
		}
		return true
	}
	drivertest.Eventually(t, 10*time.Second, "a connect for every device", connected)
}

// The same over UDP, and over TCP with RTU framing.
func TestPymodbusUDPAndRTUOverTCP(t *testing.T) {
	for _, mode := range []string{"udp", "rtutcp"} {
		t.Run(mode, func(t *testing.T) {
			port := drivertest.FreePort(t)
			conn := cfgMap{"host": "127.0.0.1", "port": port, "type": "tcp", "method": "rtu"}
			if mode == "udp" {
				conn = cfgMap{"host": "127.0.0.1", "port": port, "type": "udp", "method": "socket"}
			}
			layout, slaves := typesSetup(conn)
			startPymodbus(t, mode, "127.0.0.1", port, layout) // UDP: early polls may be lost; retried
			c := newConnector(t, cfgMap{"master": cfgMap{"slaves": slaves}})
			sink := drivertest.NewSink()
			drivertest.Run(t, c, sink)
			checkTypes(t, sink, false)
		})
	}
}

// RTU and ASCII over a virtual serial line (socat pty pair): four slaves
// (units 1-4) share the port.
func TestPymodbusSerial(t *testing.T) {
	for _, method := range []string{"rtu", "ascii"} {
		t.Run(method, func(t *testing.T) {
			srv, cli := ptyPair(t)
			layout, slaves := typesSetup(cfgMap{"type": "serial", "method": method, "port": cli, "baudrate": 19200})
			startPymodbus(t, method, srv, 19200, layout)
			c := newConnector(t, cfgMap{"master": cfgMap{"slaves": slaves}})
			if len(c.masters) != 1 {
				t.Fatalf("%d ports for one serial line", len(c.masters))
			}
			sink := drivertest.NewSink()
			drivertest.Run(t, c, sink)
			checkTypes(t, sink, method == "rtu")
		})
	}
}
