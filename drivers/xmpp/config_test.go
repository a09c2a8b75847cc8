package xmpp

import (
	"bytes"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/tbgw/tbgw/drivers/drivertest"
	"github.com/tbgw/tbgw/gw/connector"
)

// TestSampleLoads: upstream's xmpp.json loads unchanged; its plugins are
// known and need no warning.
func TestSampleLoads(t *testing.T) {
	raw, err := os.ReadFile("testdata/xmpp.json")
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	c, err := New(raw, connector.Env{Name: "XMPP", Log: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if logs.Len() > 0 {
		t.Errorf("warnings: %s", logs.String())
	}
	p := c.(*Connector).plan
	if p.addr != "localhost:5222" || p.jid.String() != "gateway@localhost" || !p.forceStartTLS || p.useSSL ||
		p.timeout != 10*time.Second || len(p.devices) != 1 || p.devices[0].jid.Resource != "TMP_1101" ||
		len(p.devices[0].attrUpd) != 1 || !p.devices[0].rpcs["rpc1"].withResponse {
		t.Errorf("plan %+v", p)
	}
}

func TestBadConfigs(t *testing.T) {
	for name, tc := range map[string]struct{ cfg, want string }{
		"syntax":    {`{"server":`, "unexpected end"},
		"no jid":    {`{"server":{}}`, "server.jid: required"},
		"bare jid":  {`{"server":{"jid":"localhost"}}`, "server.jid"},
		"port":      {`{"server":{"jid":"a@b","port":0}}`, "server.port"},
		"contra":    {`{"server":{"jid":"a@b","disable_starttls":true,"force_starttls":true}}`, "server.disable_starttls"},
		"mechanism": {`{"server":{"jid":"a@b","saslMechanisms":["DIGEST-MD5"]}}`, "server.saslMechanisms[0]"},
		"ca":        {`{"server":{"jid":"a@b","caCert":"/nonexistent/ca.pem"}}`, "server.caCert"},
		"dev jid":   {`{"server":{"jid":"a@b"},"devices":[{"jid":"@x","deviceNameExpression":"d"}]}`, "devices[0].jid"},
		"dev name":  {`{"server":{"jid":"a@b"},"devices":[{"jid":"d@x"}]}`, "devices[0].deviceNameExpression"},
		"dup":       {`{"server":{"jid":"a@b"},"devices":[{"jid":"d@x","deviceNameExpression":"d"},{"jid":"d@x","deviceNameExpression":"e"}]}`, "devices[1].jid"},
		"value":     {`{"server":{"jid":"a@b"},"devices":[{"jid":"d@x","deviceNameExpression":"d","timeseries":[{"key":"k","value":"${x"}]}]}`, "devices[0].timeseries[0]"},
		"rpc":       {`{"server":{"jid":"a@b"},"devices":[{"jid":"d@x","deviceNameExpression":"d","serverSideRpc":[{"valueExpression":"x"}]}]}`, "devices[0].serverSideRpc[0].methodRPC"},
	} {
		_, err := New([]byte(tc.cfg), connector.Env{Name: "XMPP"})
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), `XMPP.json:`) {
			t.Errorf("%s: %v, want %q", name, err, tc.want)
		}
	}
}

// TestConformance runs the contract checks with the slixmpp device
// sending a message as the trigger.
func TestConformance(t *testing.T) {
	s := startServer(t, true)
	dev := s.device(t)
	drivertest.Conformance(t, drivertest.Suite{
		Type:    "xmpp",
		Factory: New,
		Config:  func(t *testing.T) []byte { return s.config(t, nil) },
		Trigger: func(t *testing.T) { dev.send(`{"serialNumber":"SN-C","temp":1,"hum":2}`) },
		Bad: map[string]string{
			`{"server":{"jid":"a@b","port":70000}}`:                   "server.port",
			`{"server":{"jid":"a@b"},"devices":[{"jid":"d@x"}]}`:      "devices[0].deviceNameExpression",
			`{"server":{"jid":"a@b","saslMechanisms":["ANONYMOUS"]}}`: "server.saslMechanisms[0]",
		},
	})
}

// TestConverterWithoutHost: a converter class that nothing provides (no Go
// converter, no Python extension host) is a warning; the built-in JSON
// conversion is used, as in the other connectors.
func TestConverterWithoutHost(t *testing.T) {
	t.Setenv("TBGW_PYTHON_HOST", "")
	var buf strings.Builder
	env := connector.Env{Name: "XMPP", Log: slog.New(slog.NewTextHandler(&buf, nil))}
	c, err := New([]byte(`{"server":{"jid":"a@b"},"devices":[{"jid":"d@x","deviceNameExpression":"d","converter":"Mine"}]}`), env)
	if err != nil {
		t.Fatal(err)
	}
	if d := c.(*Connector).plan.devices[0]; d.py != nil || d.conv == nil {
		t.Fatalf("device %+v", d)
	}
	if !strings.Contains(buf.String(), `devices[0].converter: converter \"Mine\" is not compiled in and no Python extension host is installed`) {
		t.Fatalf("no warning: %s", buf.String())
	}
}
