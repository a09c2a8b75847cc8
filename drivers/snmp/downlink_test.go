package snmp

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tbgw/tbgw/drivers/drivertest"
	"github.com/tbgw/tbgw/gw/connector"
)

func rpc(t *testing.T, c *Connector, device, method, params string) (any, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return c.OnRPC(ctx, connector.RPC{Device: device, ID: 1, Method: method, Params: json.RawMessage(params), Timeout: 10 * time.Second})
}

// result marshals an RPC reply the way the gateway does.
func result(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestDownlink writes through attribute updates and RPCs (SNMPv2c and v3)
// while the devices are being polled, and reads back with snmpget.
func TestDownlink(t *testing.T) {
	a := startAgent(t)
	c := newConnector(t, fmt.Sprintf(`{"devices":[
	{"deviceName":"W","ip":"127.0.0.1","port":%[1]d,"pollPeriod":50,"community":"private",
	 "telemetry":[{"key":"uptime","method":"get","oid":"1.3.6.1.2.1.1.3.0"}],
	 "attributeUpdateRequests":[
		{"attributeFilter":"location","method":"set","oid":"1.3.6.1.2.1.1.6.0"},
		{"attributeFilter":"authTraps","method":"set","oid":"1.3.6.1.2.1.11.30.0","type":"i"},
		{"attributeFilter":"contact.*","method":"multiset","mappings":{"1.3.6.1.2.1.1.4.0":"${attribute}","1.3.6.1.2.1.1.6.0":"site of ${attributeKey}"}}
	 ],
	 "serverSideRpcRequests":[
		{"requestFilter":"setLocation","method":"set","oid":"1.3.6.1.2.1.1.6.0"},
		{"requestFilter":"multiSetData","method":"multiset"},
		{"requestFilter":"getName","method":"get","oid":"1.3.6.1.2.1.1.5.0"},
		{"requestFilter":"walkSystem","method":"bulkwalk","oid":["1.3.6.1.2.1.1"]},
		{"requestFilter":"setName","method":"set","oid":"1.3.6.1.2.1.1.5.0"}
	 ]},
	{"deviceName":"W3","ip":"127.0.0.1","port":%[1]d,"pollPeriod":50,"version":3,"userName":"authPrivUser",
	 "authProtocol":"SHA","authKey":"authpass123","privProtocol":"AES","privKey":"privpass123",
	 "telemetry":[{"key":"uptime","method":"get","oid":"1.3.6.1.2.1.1.3.0"}],
	 "attributeUpdateRequests":[{"attributeFilter":"contact","method":"set","oid":"1.3.6.1.2.1.1.4.0"}]}]}`, a.port))
	sink := drivertest.NewSink()
	drivertest.Run(t, c, sink)
	ctx := context.Background()

	attr := func(device string, values map[string]any) {
		t.Helper()
		if err := c.OnAttributes(ctx, device, values); err != nil {
			t.Fatalf("OnAttributes %v: %v", values, err)
		}
	}
	attr("W", map[string]any{"location": "rack 7"})
	if got := a.get("1.3.6.1.2.1.1.6.0"); got != "rack 7" {
		t.Errorf("sysLocation %q", got)
	}
	attr("W", map[string]any{"authTraps": 2.0})
	if got := a.get("1.3.6.1.2.1.11.30.0"); got != "2" {
		t.Errorf("snmpEnableAuthenTraps %q", got)
	}
	attr("W", map[string]any{"contactPerson": "ops team", "unrelated": 1.0})
	if got := a.get("1.3.6.1.2.1.1.4.0"); got != "ops team" {
		t.Errorf("sysContact %q", got)
	}
	if got := a.get("1.3.6.1.2.1.1.6.0"); got != "site of contactPerson" {
		t.Errorf("sysLocation %q", got)
	}
	attr("W3", map[string]any{"contact": "v3 contact"})
	if got := a.get("1.3.6.1.2.1.1.4.0"); got != "v3 contact" {
		t.Errorf("sysContact over v3 %q", got)
	}
	if err := c.OnAttributes(ctx, "nobody", map[string]any{"location": "x"}); err == nil {
		t.Error("unknown device: no error")
	}

	for _, tc := range []struct{ method, params, want string }{
		{"setLocation", `"hall 2"`, `{"result":"hall 2"}`},
		{"setLocation", `{"value":"hall 3"}`, `{"result":"hall 3"}`},
		{"getName", `null`, `{"result":"probe-snmpd"}`},
		{"multiSetData", `{"1.3.6.1.2.1.1.4.0":"rpc contact","1.3.6.1.2.1.11.30.0":1}`,
			`{"result":{"1.3.6.1.2.1.1.4.0":"rpc contact","1.3.6.1.2.1.11.30.0":"1"}}`},
		{"get", `"method=get;oid=1.3.6.1.2.1.1.4.0;"`, `{"result":"rpc contact"}`},
		{"get", `"oid=1.3.6.1.2.1.1.5.0,1.3.6.1.2.1.1.4.0;method=multiget"`, `{"result":"probe-snmpd,rpc contact"}`},
		{"set", `"method=set;oid=1.3.6.1.2.1.1.6.0;value=reserved=yes;"`, `{"result":"reserved=yes"}`},
		{"set", `"oid=1.3.6.1.2.1.11.30.0;value=2;type=i"`, `{"result":2}`},
		{"set", `{"oid":"1.3.6.1.2.1.11.30.0","value":1,"type":"i"}`, `{"result":1}`},
	} {
		v, err := rpc(t, c, "W", tc.method, tc.params)
		if err != nil {
			t.Errorf("%s %s: %v", tc.method, tc.params, err)
			continue
		}
		if got := result(t, v); got != tc.want {
			t.Errorf("%s %s:\n got %s\nwant %s", tc.method, tc.params, got, tc.want)
		}
	}
	if got := a.get("1.3.6.1.2.1.1.6.0"); got != "reserved=yes" {
		t.Errorf("sysLocation after reserved set %q", got)
	}
	v, err := rpc(t, c, "W", "walkSystem", `{}`)
	if err != nil {
		t.Fatal(err)
	}
	if s := result(t, v); !strings.Contains(s, `"1.3.6.1.2.1.1.5.0":"probe-snmpd"`) || !strings.Contains(s, `"1.3.6.1.2.1.1.4.0":"rpc contact"`) {
		t.Errorf("walkSystem %s", s)
	}

	for _, tc := range []struct{ device, method, params, want string }{
		{"W", "setName", `"other"`, "NotWritable"}, // sysName is read-only: set in snmpd.conf
		{"W", "reboot", `null`, "no serverSideRpcRequests entry matches"},
		{"W", "get", `"oid=1.3.6.1.2.1.1.99.0"`, "no such object"},
		{"W", "get", `"method=set;oid=1.3.6.1.2.1.1.6.0"`, "get cannot run set"},
		{"W", "set", `"oid=1.3.6.1.2.1.1.6.0"`, "set needs value"},
		{"W", "set", `"oid=1.3.6.1.2.1.11.30.0;value=x;type=i"`, "not a whole number"},
		{"W", "get", `"method=get"`, "oid=... is required"},
		{"W", "multiSetData", `"x"`, "multiset needs"},
		{"nobody", "get", `"oid=1.3"`, "not configured"},
		{"", "get", `"oid=1.3"`, "connector RPC"},
	} {
		_, err := rpc(t, c, tc.device, tc.method, tc.params)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s %s %s: got %v, want %q", tc.device, tc.method, tc.params, err, tc.want)
		}
	}
	// Polling went on meanwhile.
	sink.Wait(t, 5*time.Second, "polls", hasKeys("W", "uptime"))
}

// TestRPCTimeout: an RPC to an agent that does not answer ends with its
// context, not after the SNMP retries.
func TestRPCTimeout(t *testing.T) {
	c := newConnector(t, `{"devices":[{"deviceName":"D","ip":"127.0.0.1","port":9,"timeout":30,"retries":3,
		"serverSideRpcRequests":[{"requestFilter":"getName","method":"get","oid":"1.3.6.1.2.1.1.5.0"}]}]}`)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.OnRPC(ctx, connector.RPC{Device: "D", Method: "getName", Params: json.RawMessage("null")})
	if err == nil {
		t.Fatal("no error")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("RPC took %v", d)
	}
}
