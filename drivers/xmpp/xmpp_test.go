package xmpp

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tbgw/tbgw/drivers/drivertest"
	"github.com/tbgw/tbgw/gw/connector"
)

func startConn(t *testing.T, cfg []byte, sink *drivertest.Sink) *Connector {
	t.Helper()
	c, err := New(cfg, drivertest.Env(t, "XMPP", "xmpp"))
	if err != nil {
		t.Fatal(err)
	}
	drivertest.Run(t, c, sink)
	xc := c.(*Connector)
	drivertest.Eventually(t, 20*time.Second, "login", func() bool { return xc.cur.Load() != nil })
	return xc
}

func latest(sink *drivertest.Sink, dev, key string, attr bool) string {
	v, ok := sink.Latest(dev, key, attr)
	if !ok {
		return "<none>"
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func call(t *testing.T, c *Connector, device, method string, params any) (string, error) {
	t.Helper()
	p, _ := json.Marshal(params)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	res, err := c.OnRPC(ctx, connector.RPC{Device: device, Method: method, Params: p, Timeout: 15 * time.Second})
	b, _ := json.Marshal(res)
	return string(b), err
}

// TestSample runs upstream's sample (STARTTLS forced) against prosody with
// a slixmpp device.
func TestSample(t *testing.T) {
	s := startServer(t, true)
	dev := s.device(t)
	sink := drivertest.NewSink()
	c := startConn(t, s.config(t, func(srv map[string]any) { srv["pingInterval"] = 0.2 }), sink)
	drivertest.Eventually(t, 10*time.Second, "pings answered", func() bool { return c.Stats()["pings"] >= 2 })
	if cl := c.cur.Load(); !cl.tls || !strings.HasPrefix(cl.mech, "SCRAM-") {
		t.Errorf("session tls=%v mechanism %s", cl.tls, cl.mech)
	}
	dev.send(`{"serialNumber":"SN-1","temp":21.5,"hum":40}`)
	drivertest.Eventually(t, 20*time.Second, "data", func() bool { return latest(sink, "SN-1", "combination", false) == `"21.5:40"` })
	if got := latest(sink, "SN-1", "temperature", true); got != "21.5" {
		t.Errorf("temperature %s", got)
	}
	if got := latest(sink, "SN-1", "humidity", false); got != "40" {
		t.Errorf("humidity %s", got)
	}
	if err := c.OnAttributes(context.Background(), "SN-1", map[string]any{"shared": "on", "other": 1}); err != nil {
		t.Fatal(err)
	}
	dev.received(`{"shared":"on"}`)
	res, err := call(t, c, "SN-1", "rpc1", map[string]any{"setpoint": 16})
	if err != nil || res != `{"result":{"ok":true,"got":"{\"setpoint\":16}"}}` {
		t.Errorf("rpc1: %s %v", res, err)
	}
	if res, err := call(t, c, "SN-1", "set", "value=5;"); err != nil || res != `{"result":{"success":true}}` {
		t.Errorf("set: %s %v", res, err)
	}
	dev.received(`{"value":"5"}`)
	if _, err := call(t, c, "SN-1", "nothing", nil); err == nil {
		t.Error("unknown method accepted")
	}
	if _, err := call(t, c, "SN-404", "rpc1", nil); err == nil {
		t.Error("unknown device accepted")
	}
	// A message that is not JSON is counted, not a crash.
	dev.send(`not json`)
	drivertest.Eventually(t, 10*time.Second, "invalid counted", func() bool { return c.Stats()["messagesInvalid"] == 1 })

	// The server restarts: the connector logs in again.
	s.stop()
	drivertest.Eventually(t, 20*time.Second, "session loss", func() bool { return c.cur.Load() == nil })
	s.start()
	drivertest.Eventually(t, 30*time.Second, "login again", func() bool { return c.cur.Load() != nil })
	dev2 := s.device(t)
	dev2.send(`{"serialNumber":"SN-1","temp":22,"hum":41}`)
	drivertest.Eventually(t, 20*time.Second, "data after restart", func() bool { return latest(sink, "SN-1", "humidity", false) == "41" })
	if c.Stats()["reconnects"] < 1 {
		t.Errorf("stats %v", c.Stats())
	}
}

// TestLogin covers the security settings against prosody with and
// without TLS.
func TestLogin(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	plan := func(t *testing.T, s *server, edit func(m map[string]any)) *plan {
		cc, err := New(s.config(t, edit), connector.Env{Name: "x"})
		if err != nil {
			t.Fatal(err)
		}
		return cc.(*Connector).plan
	}
	ctx := context.Background()
	t.Run("TLS", func(t *testing.T) {
		s := startServer(t, true)
		for _, mech := range []string{"SCRAM-SHA-1", "PLAIN"} {
			cl, err := login(ctx, log, plan(t, s, func(m map[string]any) { m["saslMechanisms"] = []string{mech} }))
			if err != nil || cl.mech != mech || !cl.tls || cl.jid.Bare() != "gateway@localhost" {
				t.Errorf("%s: %+v %v", mech, cl, err)
				continue
			}
			cl.close()
		}
		// Direct TLS.
		cl, err := login(ctx, log, plan(t, s, func(m map[string]any) { m["use_ssl"], m["port"] = true, s.tlsPort }))
		if err != nil || !cl.tls {
			t.Errorf("use_ssl: %v", err)
		} else {
			cl.close()
		}
		// An untrusted certificate is refused.
		_, err = login(ctx, log, plan(t, s, func(m map[string]any) { delete(m, "caCert") }))
		if err == nil || !strings.Contains(err.Error(), "certificate") {
			t.Errorf("unverified certificate: %v", err)
		}
		_, err = login(ctx, log, plan(t, s, func(m map[string]any) { m["password"] = "wrong" }))
		if err == nil || !strings.Contains(err.Error(), "not-authorized") {
			t.Errorf("wrong password: %v", err)
		}
	})
	t.Run("NoTLS", func(t *testing.T) {
		s := startServer(t, false)
		// force_starttls (the sample's setting): refused before any
		// credentials are sent.
		_, err := login(ctx, log, plan(t, s, nil))
		if !errors.Is(err, errTLSRequired) {
			t.Errorf("force_starttls without TLS: %v", err)
		}
		p := plan(t, s, func(m map[string]any) { m["force_starttls"], m["disable_starttls"] = false, true })
		cl, err := login(ctx, log, p)
		if err != nil || cl.tls || !strings.HasPrefix(cl.mech, "SCRAM-") {
			t.Errorf("plain: %+v %v", cl, err)
		} else {
			cl.close()
		}
		p = plan(t, s, func(m map[string]any) {
			m["force_starttls"], m["disable_starttls"], m["unencrypted_plain_auth"], m["saslMechanisms"] = false, true, false, []string{"PLAIN"}
		})
		if _, err := login(ctx, log, p); err == nil || !strings.Contains(err.Error(), "not encrypted") {
			t.Errorf("PLAIN without TLS: %v", err)
		}
	})
}

// TestPythonConverter: a device's "converter" naming an upstream-style
// Python class runs in the extension host with Debian's python3, called as
// upstream's connector calls it (convert(device, body)); the class reads a
// line protocol the built-in JSON conversion could not.
func TestPythonConverter(t *testing.T) {
	ext, _ := filepath.Abs("../../extensions")
	t.Setenv("TBGW_PYTHON", "/usr/bin/python3")
	t.Setenv("TBGW_PYTHON_HOST", filepath.Join(ext, "tbgw_host.py"))
	t.Setenv("TBGW_PYTHON_EXTENSIONS", filepath.Join(ext, "examples"))
	s := startServer(t, true)
	var m map[string]any
	if err := json.Unmarshal(s.config(t, nil), &m); err != nil {
		t.Fatal(err)
	}
	d := m["devices"].([]any)[0].(map[string]any)
	d["converter"], d["demoScale"] = "DemoXmppUplinkConverter", 10
	cfg, _ := json.Marshal(m)
	dev := s.device(t)
	sink := drivertest.NewSink()
	c := startConn(t, cfg, sink)
	dev.send(`sn=SN-7;temp=21.5;hum=40`)
	drivertest.Eventually(t, 20*time.Second, "converted data", func() bool { return latest(sink, "SN-7", "hum", false) == "400" })
	if got := latest(sink, "SN-7", "temp", false); got != "215" {
		t.Errorf("temp %s", got)
	}
	if got := latest(sink, "SN-7", "jid", true); got != `"device@localhost/TMP_1101"` {
		t.Errorf("jid %s", got)
	}
	// A message the class fails on is counted; the next one converts.
	dev.send(`no serial here`)
	drivertest.Eventually(t, 10*time.Second, "invalid counted", func() bool { return c.Stats()["messagesInvalid"] == 1 })
	dev.send(`sn=SN-7;hum=41`)
	drivertest.Eventually(t, 20*time.Second, "after a failure", func() bool { return latest(sink, "SN-7", "hum", false) == "410" })
	// Downlink still goes through the device's entries (the route comes
	// from the converted data's device name).
	if err := c.OnAttributes(context.Background(), "SN-7", map[string]any{"shared": "on"}); err != nil {
		t.Fatal(err)
	}
	dev.received(`{"shared":"on"}`)
}
