package ocpp

import (
	"bytes"
	"log/slog"
	"os"
	"strings"
	"testing"

	"github.com/tbgw/tbgw/gw/connector"
)

// TestSampleLoads: upstream's ocpp.json loads unchanged, without warnings.
func TestSampleLoads(t *testing.T) {
	raw, err := os.ReadFile("testdata/ocpp.json")
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	env := connector.Env{Name: "OCPP", Log: slog.New(slog.NewTextHandler(&logs, nil))}
	c, err := New(raw, env)
	if err != nil {
		t.Fatal(err)
	}
	p := c.(*Connector).plan
	if p.addr != "127.0.0.1:9000" || len(p.tokens) != 1 || len(p.basics) != 1 || len(p.cps) != 1 || p.tls != nil {
		t.Errorf("plan %+v", p)
	}
	cp := p.cps[0]
	if cp.conv["MeterValues"] == nil || cp.conv["DataTransfer"] == nil || len(cp.conv) != 2 || len(cp.attrUpd) != 1 || len(cp.rpcs) != 1 {
		t.Errorf("charge point plan %+v", cp)
	}
	if logs.Len() > 0 {
		t.Errorf("warnings: %s", logs.String())
	}
}

func TestBadConfigs(t *testing.T) {
	for name, tc := range map[string]struct{ cfg, want string }{
		"syntax":        {`{"centralSystem":`, "unexpected end"},
		"port":          {`{"centralSystem":{"port":70000},"chargePoints":[{"idRegexpPattern":"x"}]}`, `centralSystem.port`},
		"port type":     {`{"centralSystem":{"port":"x"},"chargePoints":[]}`, `centralSystem.port`},
		"no cps":        {`{"centralSystem":{}}`, `chargePoints: at least one`},
		"regex":         {`{"centralSystem":{},"chargePoints":[{"idRegexpPattern":"("}]}`, `chargePoints[0].idRegexpPattern`},
		"no id":         {`{"centralSystem":{},"chargePoints":[{}]}`, `chargePoints[0].idRegexpPattern: required`},
		"conn type":     {`{"centralSystem":{"connection":{"type":"ssl"}},"chargePoints":[{"idRegexpPattern":"x"}]}`, `centralSystem.connection.type`},
		"tls no cert":   {`{"centralSystem":{"connection":{"type":"tls"}},"chargePoints":[{"idRegexpPattern":"x"}]}`, `needs cert and key`},
		"tls missing":   {`{"centralSystem":{"connection":{"type":"TLS","cert":"/nonexistent/c.pem","key":"k"}},"chargePoints":[{"idRegexpPattern":"x"}]}`, `no such file`},
		"security type": {`{"centralSystem":{"security":[{"type":"magic"}]},"chargePoints":[{"idRegexpPattern":"x"}]}`, `centralSystem.security[0].type`},
		"filter":        {`{"centralSystem":{},"chargePoints":[{"idRegexpPattern":"x","timeseries":[{"key":"k","value":"${v}","messageTypeFilter":" , "}]}]}`, `chargePoints[0].timeseries[0].messageTypeFilter`},
		"value":         {`{"centralSystem":{},"chargePoints":[{"idRegexpPattern":"x","attributes":[{"key":"k","value":"${v","messageTypeFilter":"MeterValues"}]}]}`, `chargePoints[0].attributes[0].value`},
		"strategy":      {`{"centralSystem":{},"chargePoints":[{"idRegexpPattern":"x","reportStrategy":{"type":"SOMETIMES"}}]}`, `chargePoints[0].reportStrategy`},
		"dup rpc":       {`{"centralSystem":{},"chargePoints":[{"idRegexpPattern":"x","serverSideRpc":[{"methodRPC":"a"},{"methodRPC":"a"}]}]}`, `serverSideRpc[1].methodRPC`},
		"subprotocol":   {`{"centralSystem":{"subprotocols":["ocpp1.5"]},"chargePoints":[{"idRegexpPattern":"x"}]}`, `centralSystem.subprotocols[0]`},
		"max msg":       {`{"centralSystem":{"maxMessageSize":10},"chargePoints":[{"idRegexpPattern":"x"}]}`, `centralSystem.maxMessageSize`},
	} {
		_, err := New([]byte(tc.cfg), connector.Env{Name: "OCPP"})
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), `ocpp connector "OCPP": OCPP.json:`) {
			t.Errorf("%s: %v, want %q", name, err, tc.want)
		}
	}
}
