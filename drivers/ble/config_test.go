package ble

import (
	_ "embed"
	"strings"
	"testing"

	"github.com/tbgw/tbgw/codec/conf"
	"github.com/tbgw/tbgw/gw/connector"
)

// upstreamBLE is upstream's ble.json, unchanged (embedded: the kernel tests
// run where the source tree is not).
//
//go:embed testdata/ble.json
var upstreamBLE string

func TestUpstreamConfigLoads(t *testing.T) {
	c, err := New([]byte(upstreamBLE), connector.Env{Name: "BLE Connector"})
	if err != nil {
		t.Fatal(err)
	}
	s := c.(*Conn).spec
	if len(s.devices) != 1 {
		t.Fatalf("%d devices", len(s.devices))
	}
	d := s.devices[0]
	if d.addr.String() != "4C:65:A8:DF:85:C0" || d.pollPeriod.Seconds() != 500 || d.timeout.Seconds() != 10 ||
		d.connectRetry != 5 || d.waitAfterMany.Seconds() != 10 || len(d.items) != 4 || len(d.updates) != 1 || len(d.rpcs) != 3 {
		t.Fatalf("%+v", d)
	}
	if d.advOnly() || !d.items[0].notify || d.items[2].notify || !d.items[2].attr {
		t.Fatalf("items %+v %+v", d.items[0], d.items[2])
	}
}

func TestBadConfigs(t *testing.T) {
	base := `{"devices":[{"name":"d","MACAddress":"4C:65:A8:DF:85:C0",%s}]}`
	for _, c := range []struct{ frag, want string }{
		{`"telemetry":[{"key":"t","method":"read","characteristicUUID":"xyz"}]`, "devices[0].telemetry[0].characteristicUUID"},
		{`"telemetry":[{"key":"t","method":"poll","characteristicUUID":"2A00"}]`, "devices[0].telemetry[0].method"},
		{`"telemetry":[{"key":"t","method":"read"}]`, "characteristicUUID or handle is required"},
		{`"attributes":[{"key":"","method":"read","characteristicUUID":"2A00"}]`, "devices[0].attributes[0].key"},
		{`"telemetry":[{"key":"t","dataSourceType":"advertisement","compute":"value +"}]`, "devices[0].telemetry[0].compute"},
		{`"telemetry":[{"key":"t","dataSourceType":"radio"}]`, "devices[0].telemetry[0].dataSourceType"},
		{`"pollPeriod":0`, "devices[0].pollPeriod"},
		{`"connectRetry":0`, "devices[0].connectRetry"},
		{`"type":"json"`, "devices[0].type"},
		{`"serverSideRpc":[{"methodRPC":"m","methodProcessing":"erase"}]`, "devices[0].serverSideRpc[0].methodProcessing"},
		{`"attributeUpdates":[{"attributeOnThingsBoard":"a","characteristicUUID":"12"}]`, "devices[0].attributeUpdates[0].characteristicUUID"},
		{`"reportStrategy":{"type":"SOMETIMES"}`, "devices[0].reportStrategy"},
		{`"addressType":"static"`, "devices[0].addressType"},
	} {
		raw := strings.Replace(base, "%s", c.frag, 1)
		_, err := New([]byte(raw), connector.Env{Name: "ble"})
		if err == nil {
			t.Errorf("%s: accepted", c.frag)
			continue
		}
		var ce *conf.Error
		if !strings.Contains(err.Error(), c.want) || (!strings.Contains(err.Error(), "ble.json:1:") && !errorsAs(err, &ce)) {
			t.Errorf("%s: %v (want a position and %q)", c.frag, err, c.want)
		}
	}
	for _, raw := range []string{
		`{"devices":[{"name":"d","MACAddress":"4C65A8DF85C0"}]}`,
		`{"devices":[{"MACAddress":"4C:65:A8:DF:85:C0"}]}`,
		`{"devices":[{"name":"d","MACAddress":"4C:65:A8:DF:85:C0"},{"name":"d","MACAddress":"4C:65:A8:DF:85:C1"}]}`,
		`{"adapter":"usb0","devices":[]}`,
		`{"scannerTimeout":0,"devices":[]}`,
		`{"scannerPollPeriod":-5,"devices":[]}`,
		`{"devices":[`,
	} {
		if _, err := New([]byte(raw), connector.Env{Name: "ble"}); err == nil {
			t.Errorf("%s: accepted", raw)
		} else if !strings.Contains(err.Error(), `ble connector "ble"`) {
			t.Errorf("%s: %v does not name the connector", raw, err)
		}
	}
}

func errorsAs(err error, target **conf.Error) bool {
	for e := err; e != nil; {
		if ce, ok := e.(*conf.Error); ok {
			*target = ce
			return true
		}
		u, ok := e.(interface{ Unwrap() error })
		if !ok {
			return false
		}
		e = u.Unwrap()
	}
	return false
}
