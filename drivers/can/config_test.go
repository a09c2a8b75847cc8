package can

import (
	"os"
	"strings"
	"testing"

	"github.com/tbgw/tbgw/drivers/drivertest"
)

// TestUpstreamConfigLoads: upstream's can.json, unchanged.
func TestUpstreamConfigLoads(t *testing.T) {
	raw, err := os.ReadFile("testdata/can.json")
	if err != nil {
		t.Fatal(err)
	}
	c, err := New(raw, drivertest.Env(t, "CAN", "can"))
	if err != nil {
		t.Fatal(err)
	}
	p := c.(*Connector).plan
	if p.channel != "vcan0" || !p.fd || p.retry.Min.Seconds() != 5 || p.retry.MaxTries != 0 || !p.retryOn {
		t.Errorf("bus settings: %+v", p)
	}
	if len(p.routes) != 2 || len(p.routes[route{41, false}]) != 1 || len(p.routes[route{1918, true}]) != 2 {
		t.Errorf("routes: %v", p.routes)
	}
	if len(p.polls) != 3 || !p.polls[0].once || p.polls[1].period.Seconds() != 5 || p.polls[2].period.Seconds() != 30 {
		t.Errorf("polls: %+v", p.polls)
	}
	d := p.byName["Car"]
	if d == nil || d.strict || !d.unknownRPC || !d.override || len(d.rpcs) != 3 || len(d.attrs) != 1 {
		t.Fatalf("device: %+v", d)
	}
	if d.rpcs["sendSameData"].encErr == nil {
		t.Error("sendSameData's malformed dataInHex was accepted")
	}
}

// TestBadConfigs: malformed configurations are rejected with the file
// position and key path.
func TestBadConfigs(t *testing.T) {
	dev := func(s string) string {
		return `{"channel":"vcan0","devices":[{"name":"D",` + s + `}]}`
	}
	item := func(s string) string { return dev(`"timeseries":[{"key":"k",` + s + `}]`) }
	for _, tc := range []struct{ name, cfg, want string }{
		{"not json", `{"devices":[`, "can.json:1:"},
		{"no devices", `{"channel":"vcan0"}`, "devices: at least one device"},
		{"interface", `{"interface":"pcan","devices":[{"name":"D"}]}`, `can.json:1:14: interface: "pcan" is not supported`},
		{"channel", `{"channel":"../x","devices":[{"name":"D"}]}`, "channel:"},
		{"reconnectPeriod", `{"reconnectPeriod":-1,"devices":[{"name":"D"}]}`, "reconnectPeriod: want seconds"},
		{"reconnectCount", `{"reconnectCount":-1,"devices":[{"name":"D"}]}`, "reconnectCount: must not be negative"},
		{"no name", `{"devices":[{"type":"x"}]}`, "devices[0].name: required"},
		{"duplicate", `{"devices":[{"name":"D"},{"name":"D"}]}`, "devices[1].name: device \"D\" is configured twice"},
		{"no nodeId", item(`"value":"0:1:int"`), "devices[0].timeseries[0].nodeId: required"},
		{"std id too big", item(`"nodeId":2048,"value":"0:1:int"`), "2048 is outside 0..2047 (set isExtendedId"},
		{"ext id too big", item(`"nodeId":536870912,"isExtendedId":true,"value":"0:1:int"`), "outside 0..536870911"},
		{"no value", item(`"nodeId":1`), "timeseries[0].value: required"},
		{"bad value", item(`"nodeId":1,"value":"0:1:number"`), `timeseries[0].value: value "0:1:number": unknown type`},
		{"bad value object", item(`"nodeId":1,"value":{"start":0}`), "value: value object needs start, length and type"},
		{"int too long", item(`"nodeId":1,"value":"0:9:int"`), "at most 8"},
		{"bad command", item(`"nodeId":1,"value":"0:1:int","command":"0:1:big"`), "timeseries[0].command:"},
		{"command too big", item(`"nodeId":1,"value":"0:1:int","command":"0:1:256"`), "does not fit"},
		{"bad expression", item(`"nodeId":1,"value":"0:1:int","expression":"value +"`), "timeseries[0].expression:"},
		{"strict eval", item(`"nodeId":1,"value":"0:1:int","expression":"abs(value)"`), `"strictEval": true`},
		{"fd without backend", item(`"nodeId":1,"isFd":true,"value":"0:1:int"`), `isFd: CAN FD frames need "backend": {"fd": true}`},
		{"polling type", item(`"nodeId":1,"value":"0:1:int","polling":{"type":"sometimes","dataInHex":"00"}`), "polling.type: want"},
		{"polling period", item(`"nodeId":1,"value":"0:1:int","polling":{"period":0,"dataInHex":"00"}`), "polling.period: want seconds"},
		{"polling hex", item(`"nodeId":1,"value":"0:1:int","polling":{"dataInHex":"0g"}`), "polling.dataInHex:"},
		{"polling too long", item(`"nodeId":1,"value":"0:1:int","polling":{"dataInHex":"000000000000000000"}`), "at most 8"},
		{"report strategy", item(`"nodeId":1,"value":"0:1:int","reportStrategy":{"type":"SOMETIMES"}`), "timeseries[0].reportStrategy:"},
		{"attribute update name", dev(`"attributeUpdates":[{"nodeId":1}]`), "attributeUpdates[0].attributeOnThingsBoard: required"},
		{"attribute update id", dev(`"attributeUpdates":[{"attributeOnThingsBoard":"a"}]`), "attributeUpdates[0].nodeId: required"},
		{"rpc method", dev(`"serverSideRpc":[{"nodeId":1}]`), "serverSideRpc[0].method: required"},
		{"rpc fd", dev(`"serverSideRpc":[{"method":"m","nodeId":1,"isFd":true}]`), "serverSideRpc[0].isFd:"},
		{"wrong type", `{"devices":[{"name":"D","timeseries":[{"key":"k","nodeId":"one"}]}]}`, "nodeId"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New([]byte(tc.cfg), drivertest.Env(t, "can", "can"))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
			if !strings.HasPrefix(err.Error(), `can connector "can": can.json:`) {
				t.Errorf("error %q does not name the connector and a position", err)
			}
		})
	}
}
