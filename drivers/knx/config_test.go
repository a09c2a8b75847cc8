package knx

import (
	"bytes"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/tbgw/tbgw/codec/knx"
	"github.com/tbgw/tbgw/gw/connector"
)

// TestSampleLoads: upstream's knx.json loads unchanged and without
// warnings.
func TestSampleLoads(t *testing.T) {
	raw, err := os.ReadFile("testdata/knx.json")
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	c, err := New(raw, connector.Env{Name: "KNX", Log: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if logs.Len() > 0 {
		t.Errorf("warnings: %s", logs.String())
	}
	p := c.(*Connector).plan
	if p.mode != modeAuto || p.gateway.String() != "192.168.1.160:3671" || p.ia.String() != "1.0.10" || !p.reconnect ||
		p.reconnWait != 3*time.Second || p.scan || len(p.devices) != 1 || len(p.attrUpd) != 1 || len(p.rpcs) != 2 {
		t.Errorf("plan %+v", p)
	}
	d := p.devices[0]
	if d.period != 5*time.Second || len(d.name.gas) != 1 || d.name.gas[0] != 0x0805 || d.name.dpt.ID != "16.000" ||
		d.typ.text != "default" || d.typ.t != nil || len(d.points) != 2 || d.points[0].dpt.ID != "9.001" || d.points[1].dpt.ID != "9.007" {
		t.Errorf("device %+v", d)
	}
	if p.attrUpd[0].dpt.ID != "5.004" || p.attrUpd[0].ga != 0x0809 {
		t.Errorf("attribute update %+v", p.attrUpd[0])
	}
	d.nameVals[knx.Group(0x0805)] = "Kitchen"
	if !d.refreshName() || d.curName != "Device Kitchen" || d.curType != "default" {
		t.Errorf("name %q %q", d.curName, d.curType)
	}
}

func TestBadConfigs(t *testing.T) {
	for name, tc := range map[string]struct{ cfg, want string }{
		"syntax":     {`{"client":`, "unexpected end"},
		"type":       {`{"client":{"type":"CARRIER_PIGEON"}}`, "client.type"},
		"secure":     {`{"client":{"type":"ROUTING_SECURE"}}`, "not supported"},
		"format":     {`{"client":{"addressFormat":"WIDE"}}`, "client.addressFormat"},
		"ip":         {`{"client":{"gatewayIP":"knx.local"}}`, "client.gatewayIP"},
		"port":       {`{"client":{"gatewayPort":70000}}`, "client.gatewayPort"},
		"ia":         {`{"client":{"individualAddress":"1.0"}}`, "client.individualAddress"},
		"tunnel":     {`{"client":{"type":"TUNNELING"}}`, "needs gatewayIP"},
		"security":   {`{"client":{"security":{"userId":2}}}`, "client.security"},
		"ga":         {`{"devices":[{"deviceInfo":{},"attributes":[{"key":"k","type":"temperature","groupAddress":"1/9/0"}]}]}`, "devices[0].attributes[0].groupAddress"},
		"dpt":        {`{"devices":[{"deviceInfo":{},"timeseries":[{"key":"k","type":"kelvinish","groupAddress":"1/0/0"}]}]}`, "devices[0].timeseries[0].type"},
		"no dpt":     {`{"devices":[{"deviceInfo":{},"timeseries":[{"key":"k","groupAddress":"1/0/0"}]}]}`, "devices[0].timeseries[0].type: required"},
		"name ga":    {`{"devices":[{"deviceInfo":{"deviceNameExpressionSource":"expression","deviceNameExpression":"D ${x}"}}]}`, "devices[0].deviceInfo.deviceNameExpression"},
		"name src":   {`{"devices":[{"deviceInfo":{"deviceNameExpressionSource":"topic"}}]}`, "deviceNameExpressionSource"},
		"poll":       {`{"devices":[{"deviceInfo":{},"pollPeriod":0}]}`, "devices[0].pollPeriod"},
		"upd filter": {`{"attributeUpdates":[{"deviceNameFilter":"(","key":"k","groupAddress":"1/0/0","dataType":"switch"}]}`, "attributeUpdates[0].deviceNameFilter"},
		"upd dtype":  {`{"attributeUpdates":[{"key":"k","groupAddress":"1/0/0"}]}`, "attributeUpdates[0].dataType: required"},
		"rpc type":   {`{"serverSideRpc":[{"method":"m","requestType":"poke","groupAddress":"1/0/0","dataType":"switch"}]}`, "serverSideRpc[0].requestType"},
		"rpc method": {`{"serverSideRpc":[{"requestType":"read","groupAddress":"1/0/0","dataType":"switch"}]}`, "serverSideRpc[0].method"},
	} {
		_, err := New([]byte(tc.cfg), connector.Env{Name: "KNX"})
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), `knx connector "KNX": KNX.json:`) {
			t.Errorf("%s: %v, want %q", name, err, tc.want)
		}
	}
}
