package ftp

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tbgw/tbgw/drivers/drivertest"
	"github.com/tbgw/tbgw/gw/connector"
)

func putFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func appendFile(t *testing.T, path, content string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(content); err != nil {
		t.Fatal(err)
	}
	f.Close()
}

func newConnector(t *testing.T, env connector.Env, cfg string) *Connector {
	t.Helper()
	c, err := New([]byte(cfg), env)
	if err != nil {
		t.Fatal(err)
	}
	return c.(*Connector)
}

// telemetry collects device:key=value for every telemetry point received.
func telemetry(data []connector.Data) []string {
	var out []string
	for _, d := range data {
		for _, p := range d.Telemetry {
			out = append(out, fmt.Sprintf("%s:%s=%v", d.Device, p.Key, p.Value))
		}
	}
	return out
}

func waitCount(t *testing.T, sink *drivertest.Sink, n int) {
	t.Helper()
	sink.Wait(t, 15*time.Second, fmt.Sprintf("%d telemetry points", n), func(data []connector.Data) bool {
		return len(telemetry(data)) >= n
	})
}

const csvCfg = `{"parameters":{"host":"127.0.0.1","port":%d,"security":{"type":"basic","username":"tb","password":"secret"}},
 "paths":[{"devicePatternName":"${serial}","devicePatternType":"meter","path":"data/*/meter_*.csv","readMode":"%s",
   "pollPeriod":0.1,"delimiter":",","attributes":[{"key":"model","value":"${model}"}],
   "timeseries":[{"key":"ts","value":"${ts}"},{"key":"kwh","value":"${kwh}","type":"double"}]}]}`

// FULL: a changed file is read again whole; unchanged files are not.
func TestFullRead(t *testing.T) {
	root := t.TempDir()
	peer := startFTP(t, root, 0, "")
	putFile(t, filepath.Join(root, "data/a/meter_1.csv"), "serial,model,ts,kwh\nSN1,M,1700000000000,1.5\nSN1,M,1700000001000,2.5\n")
	putFile(t, filepath.Join(root, "data/b/meter_2.csv"), "serial,model,ts,kwh\nSN2,M,1700000000000,7\n")
	putFile(t, filepath.Join(root, "data/b/other.csv"), "serial,model,ts,kwh\nSN9,M,1700000000000,9\n")
	env := drivertest.Env(t, "ftp1", "ftp")
	c := newConnector(t, env, fmt.Sprintf(csvCfg, peer.port, "FULL"))
	sink := drivertest.NewSink()
	drivertest.Run(t, c, sink)
	waitCount(t, sink, 3)
	got := strings.Join(telemetry(sink.Data()), " ")
	for _, w := range []string{"SN1:kwh=1.5", "SN1:kwh=2.5", "SN2:kwh=7"} {
		if !strings.Contains(got, w) {
			t.Errorf("missing %s in %s", w, got)
		}
	}
	if strings.Contains(got, "SN9") {
		t.Errorf("read a file outside the pattern: %s", got)
	}
	d := sink.Data()[0]
	if d.Type != "meter" || len(d.Attributes) != 1 || d.Telemetry[0].TS < 1700000000000 {
		t.Errorf("first item %+v", d)
	}
	// Rewrite one file (size changes): read again whole.
	putFile(t, filepath.Join(root, "data/b/meter_2.csv"), "serial,model,ts,kwh\nSN2,M,1700000000000,7\nSN2,M,1700000005000,8\n")
	waitCount(t, sink, 5)
	if n := len(telemetry(sink.Data())); n != 5 {
		t.Errorf("after rewrite: %d points", n)
	}
}

// PARTIAL: only new complete lines are read; the offset survives a
// restart, and a partly written last line waits for its end.
func TestPartialReadAndRestart(t *testing.T) {
	root := t.TempDir()
	peer := startFTP(t, root, 0, "")
	file := filepath.Join(root, "data/x/meter_1.csv")
	putFile(t, file, "serial,model,ts,kwh\nSN1,M,1,1\nSN1,M,2,2\n")
	env := drivertest.Env(t, "ftp2", "ftp")
	cfg := fmt.Sprintf(csvCfg, peer.port, "PARTIAL")
	c := newConnector(t, env, cfg)
	sink := drivertest.NewSink()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx, sink) }()
	waitCount(t, sink, 2)
	appendFile(t, file, "SN1,M,3,3\nSN1,M,4,")
	waitCount(t, sink, 3)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(filepath.Join(env.DataDir, "ftp-state.json"))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("state file: %v %v", st, err)
	}
	appendFile(t, file, "4\nSN1,M,5,5\n")

	// A new connector with the same data directory continues.
	c2 := newConnector(t, env, cfg)
	drivertest.Run(t, c2, sink)
	waitCount(t, sink, 5)
	got := strings.Join(telemetry(sink.Data()), " ")
	if got != "SN1:kwh=1 SN1:kwh=2 SN1:kwh=3 SN1:kwh=4 SN1:kwh=5" {
		t.Errorf("got %s", got)
	}
	// Truncation (log rotation): read from the start again.
	putFile(t, file, "serial,model,ts,kwh\nSN1,M,6,6\n")
	waitCount(t, sink, 6)
}

// FTPS with explicit TLS, certificate verified against caFile; a JSON file
// through the JSON converter; the server going away and coming back.
func TestFTPSAndReconnect(t *testing.T) {
	root := t.TempDir()
	peer := startFTP(t, root, 0, t.TempDir())
	putFile(t, filepath.Join(root, "j/dev.json"), `[{"name":"J1","t":21.5,"ts":1700000000000},{"name":"J2","t":22}]`)
	cfg := fmt.Sprintf(`{"parameters":{"host":"127.0.0.1","port":%d,"TLSSupport":true,"tls":{"caFile":%q},
	  "security":{"type":"basic","username":"tb","password":"secret"},"timeout":5},
	  "paths":[{"devicePatternName":"${name}","path":"j/*.json","pollPeriod":0.1,
	    "timeseries":[{"key":"temp","value":"${t}","type":"double"}]}]}`, peer.port, peer.cert)
	c := newConnector(t, drivertest.Env(t, "ftps", "ftp"), cfg)
	sink := drivertest.NewSink()
	drivertest.Run(t, c, sink)
	waitCount(t, sink, 2)
	if v, _ := sink.Latest("J1", "temp", false); v != 21.5 {
		t.Errorf("J1 temp = %v", v)
	}

	// Unverifiable certificate: refused.
	bad := c.plan.srv.tls.Clone()
	bad.RootCAs = nil
	srv := c.plan.srv
	srv.tls = bad
	if s, err := dial(context.Background(), &srv); err == nil {
		s.close()
		t.Error("connected to a server with an unknown certificate")
	}

	peer.restart(t)
	putFile(t, filepath.Join(root, "j/dev.json"), `[{"name":"J1","t":30}]`)
	sink.Wait(t, 20*time.Second, "J1 temp 30 after the restart", func(data []connector.Data) bool {
		v, _ := drivertest.Latest(data, "J1", "temp", false)
		return v == 30.0
	})
}

// Attribute updates and RPCs write files that read back as written.
func TestDownlink(t *testing.T) {
	root := t.TempDir()
	peer := startFTP(t, root, 0, "")
	putFile(t, filepath.Join(root, "out/log.txt"), "first\n")
	cfg := fmt.Sprintf(`{"host":"127.0.0.1","port":%d,"security":{"type":"basic","username":"tb","password":"secret"},
	  "paths":[],
	  "attributeUpdates":[
	    {"path":"out/log.txt","deviceNameFilter":"SN.*","writingMode":"WRITE","valueExpression":"${attributeKey}=${attributeValue}"},
	    {"path":"out/${attributeKey}.json","deviceNameFilter":"SN.*","writingMode":"OVERRIDE","valueExpression":"{'${attributeKey}':'${attributeValue}'}"}],
	  "serverSideRpc":[{"deviceNameFilter":".*","methodFilter":"read","valueExpression":"${params}"},
	                   {"deviceNameFilter":".*","methodFilter":"write","valueExpression":"${params}"}]}`, peer.port)
	c := newConnector(t, drivertest.Env(t, "ftpdown", "ftp"), cfg)
	ctx := context.Background()
	if err := c.OnAttributes(ctx, "SN1", map[string]any{"fw": 2}); err == nil {
		t.Error("downlink served while stopped")
	}
	drivertest.Run(t, c, drivertest.NewSink())
	deadline := time.Now().Add(5 * time.Second)
	for !c.running.Load() && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if err := c.OnAttributes(ctx, "SN1", map[string]any{"fw": 2, "mode": "eco"}); err != nil {
		t.Fatal(err)
	}
	read := func(p string) string {
		b, err := os.ReadFile(filepath.Join(root, p))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	if got := read("out/log.txt"); got != "first\nfw=2\nmode=eco\n" {
		t.Errorf("log.txt = %q", got)
	}
	if got := read("out/fw.json"); got != `{"fw":"2"}` {
		t.Errorf("fw.json = %q", got)
	}
	// Device RPC write then read; reserved set/get; connector RPC.
	rpc := func(dev, method string, params any) string {
		t.Helper()
		raw, _ := json.Marshal(params)
		res, err := c.OnRPC(ctx, connector.RPC{Device: dev, Method: method, Params: raw})
		if err != nil {
			t.Fatalf("%s %s: %v", dev, method, err)
		}
		b, _ := json.Marshal(res)
		return string(b)
	}
	if got := rpc("SN1", "write", "out/r.txt;hello"); got != `{"result":{"value":"hello"}}` {
		t.Errorf("write: %s", got)
	}
	if got := rpc("SN1", "read", "out/r.txt"); got != `{"result":"hello"}` {
		t.Errorf("read: %s", got)
	}
	if got := rpc("SN1", "set", "filePath=out/s.txt;value=42;"); got != `{"result":{"value":"42"}}` {
		t.Errorf("set: %s", got)
	}
	if got := rpc("SN1", "get", "filePath=out/s.txt;"); got != `{"result":"42"}` {
		t.Errorf("get: %s", got)
	}
	if got := rpc("", "read", map[string]string{"valueExpression": "out/log.txt"}); !strings.Contains(got, "mode=eco") {
		t.Errorf("connector read: %s", got)
	}
	if _, err := c.OnRPC(ctx, connector.RPC{Device: "SN1", Method: "read", Params: json.RawMessage(`"out/none.txt"`)}); err == nil {
		t.Error("read of a missing file succeeded")
	}
	if _, err := c.OnRPC(ctx, connector.RPC{Device: "SN1", Method: "reboot", Params: json.RawMessage(`null`)}); err == nil {
		t.Error("unknown method succeeded")
	}
}
