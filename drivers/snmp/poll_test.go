package snmp

import (
	"encoding/json"
	"fmt"
	"net"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tbgw/tbgw/codec"
	"github.com/tbgw/tbgw/drivers/drivertest"
	"github.com/tbgw/tbgw/gw/connector"
)

// newConnector builds a connector from a config with a test logger.
func newConnector(t testing.TB, raw string) *Connector {
	t.Helper()
	c, err := New([]byte(raw), drivertest.Env(t, "snmp", "snmp"))
	if err != nil {
		t.Fatal(err)
	}
	return c.(*Connector)
}

func latestObject(t *testing.T, s *drivertest.Sink, device, key string, attr bool) map[string]any {
	t.Helper()
	v, ok := s.Latest(device, key, attr)
	if !ok {
		t.Fatalf("%s/%s: no value", device, key)
	}
	raw, ok := v.(json.RawMessage)
	if !ok {
		t.Fatalf("%s/%s: %T %v, want a JSON object", device, key, v, v)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("%s/%s: %v: %s", device, key, err, raw)
	}
	return m
}

func hasKeys(device string, keys ...string) func([]connector.Data) bool {
	return func(data []connector.Data) bool {
		for _, k := range keys {
			_, a := drivertest.Latest(data, device, k, true)
			_, t := drivertest.Latest(data, device, k, false)
			if !a && !t {
				return false
			}
		}
		return true
	}
}

// TestMethods reads with every method from snmpd (SNMPv2c) and compares
// with what net-snmp's own tools see.
func TestMethods(t *testing.T) {
	a := startAgent(t)
	c := newConnector(t, fmt.Sprintf(`{"devices":[{"deviceName":"R","deviceType":"router","ip":"127.0.0.1",
	"port":%d,"pollPeriod":300,"community":"public","timeout":2,
	"attributes":[
		{"key":"sysName","method":"get","oid":"1.3.6.1.2.1.1.5.0"},
		{"key":"sysObjectID","method":"get","oid":".1.3.6.1.2.1.1.2.0"},
		{"key":"missing","method":"get","oid":"1.3.6.1.2.1.1.99.0"},
		{"key":"multi","method":"multiget","oid":["1.3.6.1.2.1.1.5.0","1.3.6.1.2.1.2.1.0"]},
		{"key":"next","method":"getnext","oid":"1.3.6.1.2.1.1.4.0"},
		{"key":"bulk","method":"bulkget","scalarOid":["1.3.6.1.2.1.1.4.0"],"repeatingOid":["1.3.6.1.2.1.2.2.1.1"],"maxListSize":2}
	],
	"telemetry":[
		{"key":"uptime","method":"get","oid":"1.3.6.1.2.1.1.3.0"},
		{"key":"ifNumber","method":"get","oid":"1.3.6.1.2.1.2.1.0"},
		{"key":"inOctets","method":"get","oid":"1.3.6.1.2.1.2.2.1.10.1"},
		{"key":"descr","method":"walk","oid":"1.3.6.1.2.1.2.2.1.2"},
		{"key":"leaf","method":"walk","oid":"1.3.6.1.2.1.1.5.0"},
		{"key":"multiwalk","method":"multiwalk","oid":["1.3.6.1.2.1.2.2.1.1","1.3.6.1.2.1.2.2.1.2"]},
		{"key":"bulkwalk","method":"bulkwalk","oid":["1.3.6.1.2.1.2.2.1.2"],"bulkSize":3},
		{"key":"table","method":"table","oid":"1.3.6.1.2.1.2.2"},
		{"key":"bulktable","method":"bulktable","oid":"1.3.6.1.2.1.2.2","bulkSize":5},
		{"key":"mac","method":"walk","oid":"1.3.6.1.2.1.2.2.1.6","octetString":"hex"}
	]}]}`, a.port))
	sink := drivertest.NewSink()
	drivertest.Run(t, c, sink)
	sink.Wait(t, 10*time.Second, "all datapoints", hasKeys("R", "sysName", "sysObjectID", "multi", "next", "bulk",
		"uptime", "ifNumber", "inOctets", "descr", "leaf", "multiwalk", "bulkwalk", "table", "bulktable", "mac"))

	if v, _ := sink.Latest("R", "sysName", true); v != "probe-snmpd" {
		t.Errorf("sysName %#v", v)
	}
	if v, _ := sink.Latest("R", "sysObjectID", true); v != strings.TrimPrefix(a.get("1.3.6.1.2.1.1.2.0"), ".") &&
		v != "1.3.6.1.4.1.8072.3.2.10" {
		t.Errorf("sysObjectID %#v", v)
	}
	if _, ok := sink.Latest("R", "missing", true); ok {
		t.Error("missing OID produced a value")
	}
	descr, order := a.walk("1.3.6.1.2.1.2.2.1.2")
	n := int64(len(descr))
	if v, _ := sink.Latest("R", "ifNumber", false); v != n {
		t.Errorf("ifNumber %#v, snmpwalk sees %d interfaces", v, n)
	}
	if v, _ := sink.Latest("R", "multi", true); v != fmt.Sprintf("probe-snmpd,%d", n) {
		t.Errorf("multi %#v", v)
	}
	if v, _ := sink.Latest("R", "uptime", false); v.(float64) <= 0 {
		t.Errorf("uptime %#v", v)
	}
	if v, _ := sink.Latest("R", "inOctets", false); v.(int64) < 0 {
		t.Errorf("inOctets %#v", v)
	}
	if m := latestObject(t, sink, "R", "next", true); !reflect.DeepEqual(m, map[string]any{"1.3.6.1.2.1.1.5.0": "probe-snmpd"}) {
		t.Errorf("next %v", m)
	}
	bulk := latestObject(t, sink, "R", "bulk", true)
	if bulk["1.3.6.1.2.1.1.5.0"] != "probe-snmpd" || bulk["1.3.6.1.2.1.2.2.1.1.1"] != "1" || len(bulk) != 3 {
		t.Errorf("bulk %v", bulk)
	}
	want := map[string]any{}
	for k, v := range descr {
		want[k] = v
	}
	for _, key := range []string{"descr", "bulkwalk"} {
		if m := latestObject(t, sink, "R", key, false); !reflect.DeepEqual(m, want) {
			t.Errorf("%s\n got %v\nwant %v", key, m, want)
		}
	}
	if m := latestObject(t, sink, "R", "leaf", false); !reflect.DeepEqual(m, map[string]any{"1.3.6.1.2.1.1.5.0": "probe-snmpd"}) {
		t.Errorf("leaf %v", m)
	}
	if m := latestObject(t, sink, "R", "multiwalk", false); len(m) != 2*len(descr) {
		t.Errorf("multiwalk has %d values, want %d", len(m), 2*len(descr))
	}
	for _, key := range []string{"table", "bulktable"} {
		tab := latestObject(t, sink, "R", key, false)
		if len(tab) != len(descr) {
			t.Errorf("%s: %d rows, want %d: %v", key, len(tab), len(descr), tab)
		}
		for oid, name := range descr {
			row := oid[strings.LastIndexByte(oid, '.')+1:]
			r, _ := tab[row].(map[string]any)
			if r["2"] != name || r["1"] != row {
				t.Errorf("%s row %s: %v, want ifDescr %q", key, row, r, name)
			}
		}
	}
	macs, _ := a.walk("1.3.6.1.2.1.2.2.1.6")
	wantMAC := map[string]any{}
	for k, v := range macs {
		wantMAC[k] = strings.ToLower(strings.ReplaceAll(strings.TrimSpace(v), " ", ":"))
	}
	if m := latestObject(t, sink, "R", "mac", false); !reflect.DeepEqual(m, wantMAC) {
		t.Errorf("mac\n got %v\nwant %v", m, wantMAC)
	}
	// Walk objects keep the agent's order.
	v, _ := sink.Latest("R", "descr", false)
	var keys []string
	dec := json.NewDecoder(strings.NewReader(string(v.(json.RawMessage))))
	for tok, err := dec.Token(); err == nil; tok, err = dec.Token() {
		if s, ok := tok.(string); ok && dec.More() && strings.HasPrefix(s, "1.3.6") {
			keys = append(keys, s)
		}
	}
	if !slices.Equal(keys, order) {
		t.Errorf("walk order %v, want %v", keys, order)
	}
	// The poller announces the device up after the poll that delivered
	// its data: the data can come first.
	drivertest.Eventually(t, 10*time.Second, "a connect", func() bool { return len(sink.Connects()) > 0 })
	if got := sink.Connects(); !slices.Equal(got, []string{"R"}) {
		t.Errorf("connects %v", got)
	}
	for _, d := range sink.Data() {
		if d.Type != "router" {
			t.Fatalf("device type %q", d.Type)
		}
		for _, p := range d.Telemetry {
			if p.TS == 0 {
				t.Fatalf("telemetry without timestamp: %+v", p)
			}
		}
	}
}

// TestV3 reads from SNMPv3 users of every security level and common
// protocols; a wrong key yields no data and no connect.
func TestV3(t *testing.T) {
	a := startAgent(t)
	dev := func(name, sec string) string {
		return fmt.Sprintf(`{"deviceName":%q,"ip":"127.0.0.1","port":%d,"pollPeriod":300,"timeout":1,"retries":0,"version":3,%s,
			"attributes":[{"key":"sysName","method":"get","oid":"1.3.6.1.2.1.1.5.0"}],
			"telemetry":[{"key":"sys","method":"walk","oid":"1.3.6.1.2.1.1"}]}`, name, a.port, sec)
	}
	devs := []string{
		dev("sha-aes", `"userName":"authPrivUser","securityLevel":"authPriv","authProtocol":"SHA","authKey":"authpass123","privProtocol":"AES","privKey":"privpass123"`),
		dev("md5", `"userName":"authOnlyUser","authProtocol":"MD5","authKey":"authpass456"`),
		dev("sha256-aes256", `"userName":"sha256User","authProtocol":"SHA-256","authKey":"authpass789","privProtocol":"AES-256","privKey":"privpass789"`),
		dev("sha-des", `"userName":"desUser","authProtocol":"SHA","authKey":"authpass000","privProtocol":"DES","privKey":"privpass000"`),
		dev("noauth", `"userName":"noAuthUser"`),
		dev("wrongkey", `"userName":"authPrivUser","authKey":"wrongpass1","privKey":"privpass123"`),
	}
	c := newConnector(t, `{"devices":[`+strings.Join(devs, ",")+`]}`)
	sink := drivertest.NewSink()
	drivertest.Run(t, c, sink)
	good := []string{"sha-aes", "md5", "sha256-aes256", "sha-des", "noauth"}
	sink.Wait(t, 15*time.Second, "v3 reads", func(data []connector.Data) bool {
		for _, d := range good {
			if !hasKeys(d, "sysName", "sys")(data) {
				return false
			}
		}
		return true
	})
	for _, d := range good {
		if v, _ := sink.Latest(d, "sysName", true); v != "probe-snmpd" {
			t.Errorf("%s: sysName %#v", d, v)
		}
		if m := latestObject(t, sink, d, "sys", false); m["1.3.6.1.2.1.1.5.0"] != "probe-snmpd" {
			t.Errorf("%s: sys %v", d, m)
		}
	}
	if _, ok := sink.Latest("wrongkey", "sysName", true); ok {
		t.Error("wrong key read data")
	}
	if slices.Contains(sink.Connects(), "wrongkey") {
		t.Error("wrong key device connected")
	}
}

// TestRecovery stops and restarts snmpd: the device is reported gone after
// its retries, backs off, and comes back (also over SNMPv3, whose engine
// boots change across the restart).
func TestRecovery(t *testing.T) {
	a := startAgent(t)
	c := newConnector(t, fmt.Sprintf(`{"devices":[
		{"deviceName":"v2","ip":"127.0.0.1","port":%[1]d,"pollPeriod":200,"timeout":0.3,"retries":1,
		 "telemetry":[{"key":"uptime","method":"get","oid":"1.3.6.1.2.1.1.3.0"}]},
		{"deviceName":"v3","ip":"127.0.0.1","port":%[1]d,"pollPeriod":200,"timeout":0.3,"retries":1,"version":"3",
		 "userName":"authPrivUser","authKey":"authpass123","privKey":"privpass123",
		 "telemetry":[{"key":"uptime","method":"get","oid":"1.3.6.1.2.1.1.3.0"}]}]}`, a.port))
	sink := drivertest.NewSink()
	drivertest.Run(t, c, sink)
	sink.Wait(t, 10*time.Second, "first data", hasKeys("v2", "uptime"))
	sink.Wait(t, 10*time.Second, "first v3 data", hasKeys("v3", "uptime"))

	a.stop()
	drivertest.Eventually(t, 10*time.Second, "disconnects", func() bool {
		ds := sink.Disconnects()
		return slices.Contains(ds, "v2") && slices.Contains(ds, "v3")
	})
	sink.Reset()
	a.start()
	sink.Wait(t, 20*time.Second, "data after restart", func(data []connector.Data) bool {
		return hasKeys("v2", "uptime")(data) && hasKeys("v3", "uptime")(data)
	})
	// The up edge follows the poll that brought the data.
	drivertest.Eventually(t, 10*time.Second, "connects after restart", func() bool {
		cs := sink.Connects()
		return slices.Contains(cs, "v2") && slices.Contains(cs, "v3")
	})
}

// TestSlowAgent: an agent that never answers holds one worker at most; the
// other device keeps its schedule.
func TestSlowAgent(t *testing.T) {
	a := startAgent(t)
	silent, err := net.ListenPacket("udp4", "127.0.0.1:0") // swallows requests
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	c := newConnector(t, fmt.Sprintf(`{"workers":2,"devices":[
		{"deviceName":"slow","ip":"127.0.0.1","port":%d,"pollPeriod":100,"timeout":3,"retries":2,
		 "telemetry":[{"key":"x","method":"get","oid":"1.3.6.1.2.1.1.3.0"}]},
		{"deviceName":"fast","ip":"127.0.0.1","port":%d,"pollPeriod":100,"timeout":1,
		 "telemetry":[{"key":"uptime","method":"get","oid":"1.3.6.1.2.1.1.3.0"}]}]}`,
		silent.LocalAddr().(*net.UDPAddr).Port, a.port))
	sink := drivertest.NewSink()
	drivertest.Run(t, c, sink)
	// The slow agent's first poll lasts 9 s; meanwhile the fast one is
	// polled over and over.
	sink.Wait(t, 8*time.Second, "20 polls of the fast device", func(data []connector.Data) bool {
		n := 0
		for _, d := range data {
			if d.Device == "fast" {
				n++
			}
		}
		return n >= 20
	})
	if _, ok := sink.Latest("slow", "x", false); ok {
		t.Error("silent agent produced data")
	}
}

// testConverter is a custom converter compiled in under a name a
// configuration's "converter" gives: it gets the poll's values as a JSON
// object and the device name as topic.
type testConverter struct{ prefix string }

func (c testConverter) Convert(topic string, payload []byte, nowMs int64) ([]connector.Data, error) {
	var m map[string]any
	if err := json.Unmarshal(payload, &m); err != nil {
		return nil, err
	}
	d := connector.Data{Device: c.prefix + topic}
	for k, v := range m {
		d.Telemetry = append(d.Telemetry, connector.Point{Key: k, Value: fmt.Sprint(v), TS: nowMs})
	}
	return []connector.Data{d}, nil
}

func init() {
	codec.RegisterUplink("TestSNMPConverter", func(cfg json.RawMessage) (codec.Uplink, error) {
		var dev struct {
			DeviceType string `json:"deviceType"`
		}
		if err := json.Unmarshal(cfg, &dev); err != nil {
			return nil, err
		}
		return testConverter{prefix: dev.DeviceType + ":"}, nil
	})
}

func TestCustomConverter(t *testing.T) {
	a := startAgent(t)
	c := newConnector(t, fmt.Sprintf(`{"devices":[{"deviceName":"R","deviceType":"conv","ip":"127.0.0.1","port":%d,
		"pollPeriod":200,"converter":"TestSNMPConverter",
		"attributes":[{"key":"sysName","method":"get","oid":"1.3.6.1.2.1.1.5.0"}]}]}`, a.port))
	sink := drivertest.NewSink()
	drivertest.Run(t, c, sink)
	sink.Wait(t, 10*time.Second, "converted data", func(data []connector.Data) bool {
		v, ok := drivertest.Latest(data, "conv:R", "sysName", false)
		return ok && v == "probe-snmpd"
	})
}

// TestV1: SNMPv1 fails a whole GET for one missing OID, so the batch falls
// back to one request per datapoint; bulk methods walk with GETNEXT.
func TestV1(t *testing.T) {
	a := startAgent(t)
	c := newConnector(t, fmt.Sprintf(`{"devices":[{"deviceName":"R1","ip":"127.0.0.1","port":%d,"pollPeriod":200,"version":1,
		"attributes":[
			{"key":"sysName","method":"get","oid":"1.3.6.1.2.1.1.5.0"},
			{"key":"missing","method":"get","oid":"1.3.6.1.2.1.1.99.0"},
			{"key":"ifNumber","method":"get","oid":"1.3.6.1.2.1.2.1.0"}],
		"telemetry":[
			{"key":"bulkwalk","method":"bulkwalk","oid":"1.3.6.1.2.1.2.2.1.2"},
			{"key":"bulkget","method":"bulkget","scalarOid":"1.3.6.1.2.1.1.4.0"}]}]}`, a.port))
	sink := drivertest.NewSink()
	drivertest.Run(t, c, sink)
	sink.Wait(t, 10*time.Second, "v1 reads", hasKeys("R1", "sysName", "ifNumber", "bulkwalk"))
	if v, _ := sink.Latest("R1", "sysName", true); v != "probe-snmpd" {
		t.Errorf("sysName %#v", v)
	}
	descr, _ := a.walk("1.3.6.1.2.1.2.2.1.2")
	if m := latestObject(t, sink, "R1", "bulkwalk", false); len(m) != len(descr) {
		t.Errorf("bulkwalk %v", m)
	}
	if _, ok := sink.Latest("R1", "bulkget", false); ok {
		t.Error("bulkget over SNMPv1 gave a value")
	}
}
