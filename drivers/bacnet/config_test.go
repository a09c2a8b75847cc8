package bacnet

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/tbgw/tbgw/codec/bacnet"
	"github.com/tbgw/tbgw/drivers/drivertest"
	"github.com/tbgw/tbgw/gw/connector"
)

func TestRegistered(t *testing.T) {
	if _, ok := connector.Lookup("bacnet"); !ok {
		t.Fatal("bacnet is not registered")
	}
}

// TestUpstreamSample: upstream's bacnet.json loads unchanged, with no
// warning, and means what upstream means.
func TestUpstreamSample(t *testing.T) {
	raw, err := os.ReadFile("testdata/upstream/bacnet.json")
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	env := drivertest.Env(t, "BACnet", "bacnet")
	env.Log = slog.New(slog.NewTextHandler(&logs, nil))
	c, err := New(raw, env)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(logs.String(), "WARN") {
		t.Errorf("warnings: %s", logs.String())
	}
	p := c.(*Connector).plan
	if p.bind != netip.MustParseAddrPort("0.0.0.0:47808") || p.broadcast != netip.MustParseAddr("255.255.255.255") ||
		p.self != (bacnet.ObjectID{Type: bacnet.DeviceType, Instance: 599}) || p.maxAPDU != 1476 || p.seg != bacnet.SegmentedBoth ||
		p.vendorID != 15 || p.discoverTimeout != 5*time.Second || p.discoverPeriod != 30*time.Second || p.foreign.IsValid() || p.objectName != "TB_gateway" {
		t.Errorf("application %+v", p)
	}
	if len(p.devices) != 1 {
		t.Fatal(len(p.devices))
	}
	d := p.devices[0]
	if ap, ok := d.addr.exact(); !ok || ap != netip.MustParseAddrPort("192.168.2.110:47808") {
		t.Errorf("address %v", d.addr)
	}
	if d.poll != 10*time.Second || d.name.eval(map[string]string{"objectName": "X"}) != "BACnet Device X" || d.profile.eval(nil) != "default" {
		t.Errorf("device %+v", d)
	}
	if len(d.items) != 2 || !d.items[0].attr || d.items[1].attr || d.items[0].types[0] != bacnet.AnalogInput || d.items[1].types[0] != bacnet.BinaryValue {
		t.Errorf("items %+v", d.items)
	}
	if len(d.writes) != 1 || d.writes[0].obj != (bacnet.ObjectID{Type: bacnet.AnalogOutput, Instance: 1}) || d.writes[0].prop != bacnet.PropPresentValue {
		t.Errorf("writes %+v", d.writes)
	}
	if r := d.rpcs["set_state"]; r == nil || !r.write || r.timeout != 10*time.Second || r.obj.Type != bacnet.BinaryOutput {
		t.Errorf("rpc set_state %+v", r)
	}
	if r := d.rpcs["get_state"]; r == nil || r.write || r.obj != (bacnet.ObjectID{Type: bacnet.AnalogOutput, Instance: 2}) {
		t.Errorf("rpc get_state %+v", r)
	}
	targets := c.(*Connector).whoIsTargets()
	if len(targets) != 1 || targets[0].unicast != netip.MustParseAddrPort("192.168.2.110:47808") {
		t.Errorf("Who-Is %+v", targets)
	}
}

// TestUpstreamTestConfigs: the device sections of upstream's unit test
// data load (inside an application block); the invalid ones are refused.
func TestUpstreamTestConfigs(t *testing.T) {
	files, _ := os.ReadDir("testdata/upstream/unit")
	if len(files) < 10 {
		t.Fatalf("%d files", len(files))
	}
	bad := map[string]string{
		"on_attribute_updates_bacnet_config_incorrect_object_id.json": "objectId",
		"on_attribute_updates_bacnet_config_invalid_data_type.json":   "objectId",
		"bacnet_server_side_rpc_incorrect_config.json":                "objectType",
		"bacnet_server_side_rpc_incorrect_read_request_type.json":     "requestType",
		"bacnet_server_side_rpc_incorrect_write_request_type.json":    "requestType",
	}
	for _, f := range files {
		dev, err := os.ReadFile("testdata/upstream/unit/" + f.Name())
		if err != nil {
			t.Fatal(err)
		}
		cfg := `{"application": {"host": "127.0.0.1", "objectIdentifier": 1}, "devices": [` + string(dev) + `]}`
		var logs bytes.Buffer
		env := drivertest.Env(t, "bacnet", "bacnet")
		env.Log = slog.New(slog.NewTextHandler(&logs, nil))
		_, err = New([]byte(cfg), env)
		if strings.Contains(logs.String(), "WARN") {
			t.Errorf("%s: warnings: %s", f.Name(), logs.String())
		}
		want, isBad := bad[f.Name()]
		switch {
		case isBad && err == nil:
			t.Errorf("%s loaded", f.Name())
		case isBad && !strings.Contains(err.Error(), want):
			t.Errorf("%s: %v", f.Name(), err)
		case !isBad && err != nil:
			t.Errorf("%s: %v", f.Name(), err)
		}
	}
}

func TestConfigErrors(t *testing.T) {
	dev := func(s string) string {
		return `{"application": {"host": "127.0.0.1", "objectIdentifier": 5}, "devices": [` + s + `]}`
	}
	cases := map[string]string{
		`{"application": {"host": "myhost", "objectIdentifier": 1}}`:                                                      `application.host`,
		`{"application": {"host": "1.2.3.4"}}`:                                                                            `objectIdentifier is required`,
		`{"application": {"host": "1.2.3.4", "objectIdentifier": 1, "port": 70000}}`:                                      `application.port`,
		`{"application": {"host": "1.2.3.4", "objectIdentifier": "x"}}`:                                                   `application.objectIdentifier`,
		`{"application": {"host": "1.2.3.4", "objectIdentifier": 1, "segmentationSupported": "some"}}`:                    `segmentationSupported`,
		`{"application": {"host": "1.2.3.4", "objectIdentifier": 1}, "foreignDevice": {"address": "bbmd", "ttl": 900}}`:   `foreignDevice.address`,
		`{"application": {"host": "1.2.3.4", "objectIdentifier": 1}, "foreignDevice": {"address": "10.0.0.1", "ttl": 0}}`: `foreignDevice.ttl`,
		dev(`{"pollPeriod": 1000}`):                      `needs an address`,
		dev(`{"address": "1.2.3"}`):                      `devices[0].address`,
		dev(`{"address": "70000:5"}`):                    `network number`,
		dev(`{"address": "1.2.3.4", "deviceId": "5-2"}`): `devices[0].deviceId`,
		dev(`{"address": "1.2.3.4", "timeseries": [{"key": "a", "objectType": "analogue", "objectId": 1}]}`):                                  `unknown object type`,
		dev(`{"address": "1.2.3.4", "timeseries": [{"key": "a", "objectType": "analogInput", "objectId": "x"}]}`):                             `objectId`,
		dev(`{"address": "1.2.3.4", "timeseries": [{"key": "a", "objectType": "analogInput", "objectId": 1, "propertyId": "presentValu"}]}`):  `unknown property`,
		dev(`{"address": "1.2.3.4", "timeseries": [{"objectType": "analogInput", "objectId": 1}]}`):                                           `key: required`,
		dev(`{"address": "1.2.3.4", "timeseries": "all"}`):                                                                                    `want a list of items`,
		dev(`{"address": "1.2.3.4", "attributeUpdates": [{"key": "a", "objectType": "analogOutput", "objectId": 1, "priority": 17}]}`):        `priority`,
		dev(`{"address": "1.2.3.4", "serverSideRpc": [{"method": "m", "requestType": "read", "objectType": "analogOutput", "objectId": 1}]}`): `requestType`,
		dev(`{"address": "1.2.3.4", "deviceInfo": {"deviceNameExpression": "x", "deviceNameExpressionSource": "js"}}`):                        `deviceNameExpressionSource`,
		dev(`{"address": "1.2.3.4", "pollPeriod": 0}`):                                                                                        `pollPeriod`,
		dev(`{"address": "1.2.3.4", "timeseries": [{"key": "a", "objectType": "analogInput", "objectId": "0-4000000"}]}`):                     `objectId`,
	}
	for cfg, want := range cases {
		_, err := New([]byte(cfg), drivertest.Env(t, "bacnet", "bacnet"))
		if err == nil {
			t.Errorf("%s: loaded", cfg)
			continue
		}
		if !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), `bacnet connector "bacnet": bacnet.json:`) {
			t.Errorf("%s:\n %v\n want %q", cfg, err, want)
		}
	}
}

// TestAddressPatterns ports upstream's address tests as behaviour: what a
// pattern matches, without upstream's regular expressions.
func TestAddressPatterns(t *testing.T) {
	local := func(s string) peer { return peer{ip: netip.MustParseAddrPort(s)} }
	routed := func(n uint16, mac string, router string) peer {
		return peer{ip: netip.MustParseAddrPort(router), net: n, mac: mac}
	}
	cases := []struct {
		pattern string
		yes, no []peer
	}{
		{"*:*:*", []peer{local("10.0.0.1:47808"), routed(5, "\x07", "10.0.0.1:47808")}, nil},
		{"*:*", []peer{local("10.0.0.1:47809"), routed(5, "\x07", "10.0.0.1:47808")}, nil},
		{"*", []peer{local("10.0.0.1:47808")}, []peer{local("10.0.0.1:47809"), routed(5, "\x07", "10.0.0.1:47808")}},
		{"192.168.X.X:47808", []peer{local("192.168.2.3:47808"), local("192.168.1.5:47808")}, []peer{local("192.169.1.5:47808"), local("192.168.1.5:47809")}},
		{"192.168.X.X:*", []peer{local("192.168.2.3:47808"), local("192.168.2.3:1")}, []peer{local("10.168.2.3:1")}},
		{"192.168.X.X:*@domain", []peer{local("192.168.2.3:5")}, nil},
		{"*:6789", []peer{local("192.168.1.1:6789")}, []peer{local("192.168.23.1:47808")}},
		{"192.168.1.1:47808", []peer{local("192.168.1.1:47808")}, []peer{local("192.168.1.10:47808"), local("192.168.1.1:47809")}},
		{"192.168.1.1", []peer{local("192.168.1.1:47808")}, []peer{local("192.168.1.1:1")}},
		{"192.168.1.1/24:47809", []peer{local("192.168.1.1:47809")}, []peer{local("192.168.1.1:47808")}},
		{"5:7", []peer{routed(5, "\x07", "10.0.0.1:47808")}, []peer{routed(6, "\x07", "10.0.0.1:47808"), routed(5, "\x08", "10.0.0.1:47808"), local("10.0.0.7:47808")}},
		{"5:0x0a0b", []peer{routed(5, "\x0a\x0b", "10.0.0.1:47808")}, []peer{routed(5, "\x0a", "10.0.0.1:47808")}},
		{"5:*", []peer{routed(5, "\x01", "10.0.0.1:47808"), routed(5, "\x09", "10.0.0.2:47808")}, []peer{routed(6, "\x01", "10.0.0.1:47808")}},
		{"5:10.1.2.3:47808", []peer{routed(5, "\x0a\x01\x02\x03\xba\xc0", "10.0.0.1:47808")}, []peer{routed(5, "\x0a\x01\x02\x04\xba\xc0", "10.0.0.1:47808")}},
	}
	for _, c := range cases {
		p, err := parseAddress(c.pattern)
		if err != nil {
			t.Errorf("%s: %v", c.pattern, err)
			continue
		}
		for _, y := range c.yes {
			if !p.match(y) {
				t.Errorf("%s does not match %v", c.pattern, y)
			}
		}
		for _, n := range c.no {
			if p.match(n) {
				t.Errorf("%s matches %v", c.pattern, n)
			}
		}
	}
	for _, bad := range []string{"", "1.2.3", "1.2.3.4:0", "1.2.3.4:x", "0:5", "65535:5", "5:0xZZ", "5:300", "a.b.c.d"} {
		if _, err := parseAddress(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

// TestMasks ports upstream's application mask tests: prefixes 0-32 and
// contiguous dotted masks are accepted; anything else falls back to 24.
func TestMasks(t *testing.T) {
	for i := 0; i <= 32; i++ {
		if maskBits(strings.TrimSpace(string(rune('0'+i/10))+string(rune('0'+i%10)))) != i {
			t.Errorf("prefix %d", i)
		}
	}
	for m, want := range map[string]int{"24": 24, "0": 0, "255.255.255.0": 24, "255.255.255.128": 25, "255.255.255.192": 26,
		"255.255.254.0": 23, "255.255.252.0": 22, "255.0.0.0": 8,
		"33": -1, "100": -1, "999999": -1, "-1": -1, "abc": -1, "": -1, "  ": -1, "24/": -1, "255.255.255.256": -1, "255.255.255": -1, "255.0.255.0": -1} {
		if got := maskBits(m); got != want {
			t.Errorf("%q: %d, want %d", m, got, want)
		}
	}
	cfg := `{"application": {"host": "192.168.1.136", "port": "47808", "mask": "33", "objectIdentifier": 594}}`
	c, err := New([]byte(cfg), drivertest.Env(t, "bacnet", "bacnet"))
	if err != nil {
		t.Fatal(err)
	}
	if b := c.(*Connector).plan.broadcast; b != netip.MustParseAddr("192.168.1.255") {
		t.Errorf("broadcast %v", b)
	}
	if b := broadcastOf(netip.MustParseAddr("10.1.2.3"), 22); b != netip.MustParseAddr("10.1.3.255") {
		t.Errorf("broadcast /22 %v", b)
	}
}

func TestValues(t *testing.T) {
	cases := []struct {
		prop bacnet.PropertyID
		in   []bacnet.Value
		want string
	}{
		{85, []bacnet.Value{float32(21.299999)}, `21.3`},
		{85, []bacnet.Value{float32(1.0 / 3)}, `0.33`},
		{85, []bacnet.Value{float64(2.555)}, `2.56`},
		{85, []bacnet.Value{bacnet.Enumerated(1)}, `1`},
		{85, []bacnet.Value{uint64(7)}, `7`},
		{85, []bacnet.Value{int64(-7)}, `-7`},
		{85, []bacnet.Value{true}, `true`},
		{77, []bacnet.Value{"Zone"}, `"Zone"`},
		{111, []bacnet.Value{bacnet.NewBitString(true, false, false, true)}, `{"fault":false,"inAlarm":true,"outOfService":true,"overridden":false}`},
		{87, []bacnet.Value{nil, float32(5), nil}, `[null,5,null]`},
		{76, []bacnet.Value{bacnet.ObjectID{Type: 0, Instance: 1}, bacnet.ObjectID{Type: 8, Instance: 2}}, `["analogInput:1","device:2"]`},
		{56, []bacnet.Value{bacnet.Date{Year: 2024, Month: 3, Day: 5, Wday: 2}}, `"2024-03-05"`},
		{57, []bacnet.Value{bacnet.Time{Hour: 1, Minute: 2, Second: 3, Hundredths: 4}}, `"01:02:03.04"`},
		{1000, []bacnet.Value{[]byte{1, 0xab}}, `"01ab"`},
		{1000, []bacnet.Value{bacnet.Constructed{Tag: 0, Values: []bacnet.Value{uint64(1)}}}, `{"0":1}`},
	}
	for _, c := range cases {
		v, ok := datapoint(c.prop, c.in)
		if !ok {
			t.Errorf("%v: no datapoint", c.in)
			continue
		}
		b, _ := json.Marshal(v)
		if string(b) != c.want {
			t.Errorf("%v: %s, want %s", c.in, b, c.want)
		}
	}
	if _, ok := datapoint(85, []bacnet.Value{nil}); ok {
		t.Error("a Null became a datapoint")
	}
	w := []struct {
		obj  bacnet.ObjectType
		prop bacnet.PropertyID
		in   any
		like bacnet.Value
		want bacnet.Value
	}{
		{bacnet.AnalogOutput, 85, 21.5, nil, float32(21.5)},
		{bacnet.AnalogOutput, 85, "21.5", nil, float32(21.5)},
		{bacnet.BinaryOutput, 85, "active", nil, bacnet.Enumerated(1)},
		{bacnet.BinaryOutput, 85, true, nil, bacnet.Enumerated(1)},
		{bacnet.BinaryOutput, 85, "0", nil, bacnet.Enumerated(0)},
		{bacnet.MultiStateValue, 85, 3.0, nil, uint64(3)},
		{bacnet.AnalogOutput, 85, nil, nil, nil},
		{bacnet.AnalogOutput, 85, "null", nil, nil},
		{bacnet.AnalogValue, 81, "true", nil, true},
		{bacnet.AnalogValue, 77, "Name", nil, "Name"},
		{bacnet.AnalogValue, 2000, 5.0, uint64(1), uint64(5)},
		{bacnet.AnalogValue, 2000, "x", "old", "x"},
	}
	for _, c := range w {
		got, err := writeValue(bacnet.ObjectID{Type: c.obj, Instance: 1}, c.prop, c.in, c.like)
		if err != nil || got != c.want {
			t.Errorf("%v %v %#v: %#v %v", c.obj, c.prop, c.in, got, err)
		}
	}
	for _, c := range []struct {
		obj bacnet.ObjectType
		in  any
	}{{bacnet.AnalogOutput, "warm"}, {bacnet.MultiStateValue, -1.0}, {bacnet.MultiStateValue, 1.5}, {bacnet.BinaryOutput, "maybe"}} {
		if v, err := writeValue(bacnet.ObjectID{Type: c.obj}, 85, c.in, nil); err == nil {
			t.Errorf("%v %#v: wrote %#v", c.obj, c.in, v)
		}
	}
}
