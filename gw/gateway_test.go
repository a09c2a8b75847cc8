package gw

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/tbgw/tbgw/gw/config"
	"github.com/tbgw/tbgw/gw/connector"
	"github.com/tbgw/tbgw/gw/tbtest"
)

// probe is a test connector: it sends one message per tick for the devices
// in its config, panics or fails on request, and counts its runs.
type probe struct {
	cfg struct {
		Devices []string `json:"devices"`
		Every   int      `json:"everyMs"`
		Panic   bool     `json:"panic"`
		Key     string   `json:"key"`
		Points  int      `json:"points"`   // keys per message (k0..kN-1) instead of one
		Once    bool     `json:"once"`     // send one message only
		Big     int      `json:"big"`      // first message: one value of this many bytes
		Fail    int      `json:"failRuns"` // the first N runs return an error after one message
		Chatty  bool     `json:"chatty"`   // log one INFO line per message
	}
	name string
	log  *slog.Logger
	mu   sync.Mutex
	attr map[string]map[string]any
}

var (
	probeRuns   sync.Map // name -> *atomic.Int64
	probeByName sync.Map // name -> *probe
)

func init() {
	connector.Register("probe", func(raw []byte, env connector.Env) (connector.Connector, error) {
		p := &probe{name: env.Name, attr: map[string]map[string]any{}, log: env.Log}
		if err := json.Unmarshal(raw, &p.cfg); err != nil {
			return nil, err
		}
		if p.cfg.Key == "" {
			p.cfg.Key = "v"
		}
		probeByName.Store(env.Name, p)
		return p, nil
	})
}

func runsOf(name string) int64 {
	v, _ := probeRuns.LoadOrStore(name, new(atomic.Int64))
	return v.(*atomic.Int64).Load()
}

func (p *probe) Run(ctx context.Context, sink connector.Sink) error {
	v, _ := probeRuns.LoadOrStore(p.name, new(atomic.Int64))
	n := v.(*atomic.Int64).Add(1)
	if p.cfg.Panic && n <= 2 {
		panic("probe exploded")
	}
	if n <= int64(p.cfg.Fail) {
		for _, d := range p.cfg.Devices {
			if err := sink.Send(ctx, []connector.Data{{Device: d, Telemetry: []connector.Point{{Key: "run", Value: n}}}}); err != nil {
				return err
			}
		}
		return errors.New("probe failed on purpose")
	}
	every := time.Duration(p.cfg.Every) * time.Millisecond
	if every == 0 {
		every = 20 * time.Millisecond
	}
	t := time.NewTicker(every)
	defer t.Stop()
	var seq int64
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		seq++
		if p.cfg.Once && seq > 1 {
			continue
		}
		if p.cfg.Big > 0 && seq == 1 {
			for _, d := range p.cfg.Devices {
				big := connector.Data{Device: d, Telemetry: []connector.Point{{Key: "big", Value: strings.Repeat("x", p.cfg.Big)}}}
				if err := sink.Send(ctx, []connector.Data{big}); err != nil && ctx.Err() == nil {
					return err
				}
			}
			continue
		}
		if p.cfg.Chatty && p.log != nil {
			p.log.Info("polled the devices of a busy connector", "seq", seq, "devices", len(p.cfg.Devices))
		}
		var items []connector.Data
		for _, d := range p.cfg.Devices {
			pts := []connector.Point{{Key: p.cfg.Key, Value: seq}}
			if p.cfg.Points > 0 {
				pts = nil
				for i := 0; i < p.cfg.Points; i++ {
					pts = append(pts, connector.Point{Key: fmt.Sprintf("k%d", i), Value: fmt.Sprintf("value-%d-%d", seq, i)})
				}
			}
			items = append(items, connector.Data{Device: d, Telemetry: pts})
		}
		if err := sink.Send(ctx, items); err != nil && ctx.Err() == nil {
			return err
		}
	}
}

func (p *probe) OnAttributes(ctx context.Context, device string, values map[string]any) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.attr[device] == nil {
		p.attr[device] = map[string]any{}
	}
	for k, v := range values {
		p.attr[device][k] = v
	}
	return nil
}

func (p *probe) OnRPC(ctx context.Context, req connector.RPC) (any, error) {
	switch req.Method {
	case "echo":
		return map[string]any{"result": map[string]any{"device": req.Device, "params": req.Params}}, nil
	case "fail":
		return nil, errors.New("it failed")
	case "get", "set":
		return map[string]any{"result": req.Method}, nil
	case "slow":
		<-ctx.Done()
		return nil, ctx.Err()
	}
	return nil, fmt.Errorf("unknown method %s", req.Method)
}

func (p *probe) SharedAttributeKeys(device string) []string { return []string{"setpoint"} }

func (p *probe) Stats() map[string]uint64 { return map[string]uint64{"probeCounter": 7} }

type logWriter struct{ t *testing.T }

func (w logWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(b)))
	return len(b), nil
}

type rig struct {
	t      *testing.T
	b      *tbtest.Broker
	tb     *tbtest.ThingsBoard
	dir    string
	g      *Gateway
	cancel context.CancelFunc
	done   chan error
	reload chan struct{}
}

func newRig(t *testing.T, main map[string]any, files map[string]any) *rig {
	t.Helper()
	// Run counts are per test: with -count=N the same names come again.
	probeRuns.Clear()
	b := tbtest.StartBroker(t)
	r := &rig{t: t, b: b, tb: tbtest.NewThingsBoard(t, b.Host, b.Port), dir: t.TempDir(), reload: make(chan struct{}, 1)}
	tbs := map[string]any{"host": b.Host, "port": b.Port, "security": map[string]any{"accessToken": "tok"}}
	if extra, ok := main["thingsboard"].(map[string]any); ok {
		for k, v := range extra {
			tbs[k] = v
		}
	}
	main["thingsboard"] = tbs
	if _, ok := main["storage"]; !ok {
		main["storage"] = map[string]any{"type": "memory"}
	}
	r.write("tb_gateway.json", main)
	for name, v := range files {
		r.write(name, v)
	}
	return r
}

func (r *rig) write(name string, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		r.t.Fatal(err)
	}
	if s, ok := v.(string); ok {
		b = []byte(s)
	}
	if err := os.WriteFile(filepath.Join(r.dir, name), b, 0o644); err != nil {
		r.t.Fatal(err)
	}
}

func (r *rig) start() {
	r.t.Helper()
	cfg, err := config.Load(r.dir, func(string) string { return "" })
	if err != nil {
		r.t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(logWriter{r.t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	g, err := New(cfg, Options{Version: "test", Log: log, NewLink: NewTBLink(log), Reload: r.reload})
	if err != nil {
		r.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r.g, r.cancel, r.done = g, cancel, make(chan error, 1)
	go func() { r.done <- g.Run(ctx) }()
	r.t.Cleanup(r.stop)
}

func (r *rig) stop() {
	if r.cancel == nil {
		return
	}
	r.cancel()
	r.cancel = nil
	select {
	case err := <-r.done:
		if err != nil {
			r.t.Errorf("Run: %v", err)
		}
	case <-time.After(20 * time.Second):
		r.t.Errorf("gateway did not stop")
	}
}

func probeConn(name, file string) map[string]any {
	return map[string]any{"type": "probe", "name": name, "configuration": file}
}

func TestSupervisorRestartsPanickingConnector(t *testing.T) {
	r := newRig(t, map[string]any{"connectors": []any{probeConn("Crashy", "c.json")}},
		map[string]any{"c.json": map[string]any{"devices": []string{"dev-c"}, "panic": true}})
	r.start()
	// Two panics, then it runs; back-off 1 s then 2 s.
	r.tb.WaitTelemetry("dev-c", "v", func(v any) bool { return v.(float64) >= 2 }, 20*time.Second)
	if n := runsOf("Crashy"); n != 3 {
		t.Fatalf("runs %d, want 3", n)
	}
	st := r.g.statsSnapshot()
	if st["CrashyRestarts"] != uint64(2) {
		t.Fatalf("restarts not counted: %v", st)
	}
}

func TestReloadRestartsOnlyChangedConnectors(t *testing.T) {
	r := newRig(t, map[string]any{"connectors": []any{probeConn("A", "a.json"), probeConn("B", "b.json")}},
		map[string]any{"a.json": map[string]any{"devices": []string{"dev-a"}}, "b.json": map[string]any{"devices": []string{"dev-b"}}})
	r.start()
	r.tb.WaitConnected("dev-a", 10*time.Second)
	r.tb.WaitConnected("dev-b", 10*time.Second)
	ra, rb := runsOf("A"), runsOf("B")
	r.write("b.json", map[string]any{"devices": []string{"dev-b"}, "key": "w"})
	r.reload <- struct{}{}
	r.tb.WaitTelemetry("dev-b", "w", nil, 10*time.Second)
	if runsOf("A") != ra || runsOf("B") != rb+1 {
		t.Fatalf("runs A %d->%d, B %d->%d", ra, runsOf("A"), rb, runsOf("B"))
	}
	// Removing a connector stops it and disconnects its devices.
	r.write("tb_gateway.json", map[string]any{
		"thingsboard": map[string]any{"host": r.b.Host, "port": r.b.Port, "security": map[string]any{"accessToken": "tok"}},
		"storage":     map[string]any{"type": "memory"},
		"connectors":  []any{probeConn("A", "a.json")},
	})
	r.reload <- struct{}{}
	r.tb.WaitMessage("v1/gateway/disconnect", func(m tbtest.Msg) bool { return strings.Contains(string(m.Payload), "dev-b") }, 10*time.Second)
}

func TestDownlinkRoutingAndReplies(t *testing.T) {
	r := newRig(t, map[string]any{"connectors": []any{probeConn("P", "p.json")}},
		map[string]any{"p.json": map[string]any{"devices": []string{"dev-p"}}})
	r.tb.SetAttributeTable("dev-p", false, map[string]any{"setpoint": 21})
	r.start()
	r.tb.WaitConnected("dev-p", 10*time.Second)
	p, _ := probeByName.Load("P")
	pr := p.(*probe)
	getAttr := func(k string) any {
		pr.mu.Lock()
		defer pr.mu.Unlock()
		return pr.attr["dev-p"][k]
	}
	// Shared attribute sync on connect.
	r.tb.Wait(10*time.Second, "setpoint synced", func() bool { return getAttr("setpoint") == 21.0 })
	// Attribute update.
	r.tb.SetAttributes("dev-p", map[string]any{"mode": "eco"})
	r.tb.Wait(10*time.Second, "mode applied", func() bool { return getAttr("mode") == "eco" })

	reply, err := r.tb.RPC("dev-p", "echo", map[string]any{"x": 1}, 10*time.Second)
	if err != nil || string(reply) != `{"result":{"device":"dev-p","params":{"x":1}}}` {
		t.Fatalf("echo: %s %v", reply, err)
	}
	reply, err = r.tb.RPC("dev-p", "fail", nil, 10*time.Second)
	if err != nil || string(reply) != `{"error":"it failed","success":false}` {
		t.Fatalf("fail: %s %v", reply, err)
	}
	// Reserved <type>_get / <type>_set reach the connector as get / set.
	for m, want := range map[string]string{"probe_get": "get", "PROBE_set": "set", "other_get": ""} {
		reply, err = r.tb.RPC("dev-p", m, nil, 10*time.Second)
		exp := `{"result":"` + want + `"}`
		if want == "" {
			exp = `{"error":"unknown method other_get","success":false}`
		}
		if err != nil || string(reply) != exp {
			t.Fatalf("%s: %s %v", m, reply, err)
		}
	}
	if st := r.g.statsSnapshot(); st["PProbeCounter"] != uint64(7) {
		t.Fatalf("connector counters not in statistics: %v", st)
	}
	reply, err = r.tb.RPC("unknown-device", "echo", nil, 15*time.Second)
	if err != nil || string(reply) != `{"code":408,"error":"Request timeout"}` {
		t.Fatalf("unknown device: %s %v", reply, err)
	}
}

// While a connector waits to restart, downlink never reaches it: RPCs are
// answered with an error and attribute updates counted as errors.
func TestDownlinkWhileRestarting(t *testing.T) {
	r := newRig(t, map[string]any{"connectors": []any{probeConn("F", "f.json")}},
		map[string]any{"f.json": map[string]any{"devices": []string{"dev-f"}, "failRuns": 1000}})
	r.start()
	r.tb.WaitTelemetry("dev-f", "run", nil, 10*time.Second)
	reply, err := r.tb.RPC("dev-f", "echo", nil, 10*time.Second)
	if err != nil || string(reply) != `{"error":"connector \"F\" is not running","success":false}` {
		t.Fatalf("RPC while restarting: %s %v", reply, err)
	}
}

func TestReservedMethod(t *testing.T) {
	for in, want := range map[string]string{"modbus_get": "get", "Modbus_SET": "set", "modbus_read": "modbus_read", "snmp_get": "snmp_get", "get": "get", "modbus_": "modbus_"} {
		if got := ReservedMethod("modbus", in); got != want {
			t.Errorf("ReservedMethod(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestRenameAndDelete(t *testing.T) {
	r := newRig(t, map[string]any{"connectors": []any{probeConn("P", "p.json")}},
		map[string]any{"p.json": map[string]any{"devices": []string{"orig"}}})
	r.start()
	r.tb.WaitConnected("orig", 10*time.Second)
	if _, err := r.tb.GatewayRPC("gateway_device_renamed", map[string]string{"orig": "shiny"}, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	r.tb.WaitTelemetry("shiny", "v", nil, 10*time.Second)
	// RPCs for the new name reach the connector under the original name.
	reply, err := r.tb.RPC("shiny", "echo", nil, 10*time.Second)
	if err != nil || !strings.Contains(string(reply), `"device":"orig"`) {
		t.Fatalf("rpc after rename: %s %v", reply, err)
	}
	// Counted before the delete: the re-announcement may come before the
	// RPC's reply does.
	before := r.tb.Connects("orig")
	if _, err := r.tb.GatewayRPC("gateway_device_deleted", "shiny", 10*time.Second); err != nil {
		t.Fatal(err)
	}
	// The device is announced again under its own name on its next data.
	r.tb.Wait(10*time.Second, "re-connect after delete", func() bool { return r.tb.Connects("orig") > before })
	b, err := os.ReadFile(filepath.Join(r.dir, DevicesFile))
	if err == nil && strings.Contains(string(b), "shiny") {
		// the registry may still be saving; wait for the next save
		r.tb.Wait(5*time.Second, "registry saved", func() bool {
			b, _ := os.ReadFile(filepath.Join(r.dir, DevicesFile))
			return !strings.Contains(string(b), "shiny")
		})
	}
}

func TestDeviceFilterAndInactivity(t *testing.T) {
	r := newRig(t, map[string]any{
		"thingsboard": map[string]any{
			"deviceFiltering":        map[string]any{"enable": true, "filterFile": "list.json"},
			"checkingDeviceActivity": map[string]any{"checkDeviceInactivity": true, "inactivityTimeoutSeconds": 1, "inactivityCheckPeriodSeconds": 1},
		},
		"connectors": []any{probeConn("P", "p.json"), probeConn("Q", "q.json")},
	}, map[string]any{
		"list.json": map[string]any{"deny": map[string]any{"P": []string{"secret.*"}}, "allow": map[string]any{"Q": []string{"q-ok"}}},
		"p.json":    map[string]any{"devices": []string{"public", "secret-1"}},
		"q.json":    map[string]any{"devices": []string{"q-ok", "q-other"}, "everyMs": 3000},
	})
	r.start()
	r.tb.WaitTelemetry("public", "v", func(v any) bool { return v.(float64) >= 5 }, 10*time.Second)
	r.tb.WaitConnected("q-ok", 10*time.Second)
	for _, d := range []string{"secret-1", "q-other"} {
		if r.tb.Connects(d) > 0 || len(r.tb.Telemetry(d)) > 0 {
			t.Fatalf("filtered device %s reached ThingsBoard", d)
		}
	}
	// q-ok sends every 3 s: it goes inactive after 1 s and is announced
	// again on its next data; "public" sends every 20 ms and stays.
	r.tb.WaitMessage("v1/gateway/disconnect", func(m tbtest.Msg) bool { return strings.Contains(string(m.Payload), "q-ok") }, 10*time.Second)
	r.tb.Wait(10*time.Second, "q-ok back", func() bool { return r.tb.Connects("q-ok") >= 2 })
	for _, m := range r.tb.Messages("v1/gateway/disconnect") {
		if strings.Contains(string(m.Payload), "public") {
			t.Fatalf("active device disconnected: %s", m.Payload)
		}
	}
}

func TestClaimAndStatistics(t *testing.T) {
	r := newRig(t, map[string]any{
		"thingsboard": map[string]any{"statistics": map[string]any{"enable": true, "statsSendPeriodInSeconds": 10}},
		"connectors":  []any{probeConn("P", "p.json")},
	}, map[string]any{"p.json": map[string]any{"devices": []string{"dev"}}})
	r.start()
	r.tb.WaitConnected("dev", 10*time.Second)
	s := r.g.sinkByID(r.g.runningByName("P").cfg.ID)
	if err := s.Claim(context.Background(), "dev", "s3cret", time.Minute); err != nil {
		t.Fatal(err)
	}
	m := r.tb.WaitMessage("v1/gateway/claim", nil, 10*time.Second)
	if string(m.Payload) != `{"dev":{"durationMs":60000,"secretKey":"s3cret"}}` {
		t.Fatalf("claim payload %s", m.Payload)
	}
	// Statistics arrive as the gateway's own telemetry.
	r.tb.WaitTelemetry(tbtest.Self, "eventsSent", func(v any) bool { return v.(float64) > 0 }, 15*time.Second)
	r.tb.WaitTelemetry(tbtest.Self, "rssBytes", func(v any) bool { return v.(float64) > 0 }, 15*time.Second)
	for _, k := range []string{"eventsReceived", "eventsStored", "eventsDropped", "queueDepth", "connectorErrors"} {
		if _, ok := r.tb.Latest(tbtest.Self, k); !ok {
			t.Errorf("statistics lack %s", k)
		}
	}
}

func TestSplitByMaxPayload(t *testing.T) {
	r := newRig(t, map[string]any{"connectors": []any{probeConn("P", "p.json")}},
		map[string]any{"p.json": map[string]any{"devices": []string{"big"}, "points": 300, "once": true}})
	// ThingsBoard allows 1000-byte payloads: tbgw splits to 80 % of that.
	r.tb.SetSessionLimits(json.RawMessage(`{"maxPayloadSize":1000,"maxInflightMessages":100,"rateLimits":{},"gatewayRateLimits":{}}`))
	r.start()
	r.tb.Wait(15*time.Second, "300 values", func() bool {
		n := 0
		for _, rec := range r.tb.Telemetry("big") {
			n += len(rec.Values)
		}
		return n >= 300
	})
	msgs := r.tb.Messages("v1/gateway/telemetry")
	if len(msgs) < 10 {
		t.Fatalf("300 values of ~20 bytes in %d messages: not split", len(msgs))
	}
	seen := map[string]bool{}
	for _, m := range msgs {
		if len(m.Payload) > 1000 {
			t.Fatalf("message of %d bytes exceeds the server's limit", len(m.Payload))
		}
	}
	for _, rec := range r.tb.Telemetry("big") {
		for k := range rec.Values {
			if seen[k] {
				t.Fatalf("key %s twice", k)
			}
			seen[k] = true
		}
	}
	if len(seen) != 300 {
		t.Fatalf("got %d keys", len(seen))
	}
}

func TestConnectorLogLevels(t *testing.T) {
	base := slog.NewTextHandler(logWriter{t}, &slog.HandlerOptions{Level: config.LevelTrace})
	svc := new(slog.LevelVar) // INFO
	g := &Gateway{cfg: &config.Config{LogLevels: map[string]slog.Level{}}, log: slog.New(LevelHandler(base, svc)),
		opts: Options{Handler: base, DataDir: t.TempDir()}, now: time.Now}
	debug := g.connectorEnv(config.Connector{Name: "chatty", LogLevel: slog.LevelDebug})
	quiet := g.connectorEnv(config.Connector{Name: "quiet", LogLevel: slog.LevelError})
	ctx := context.Background()
	if !debug.Log.Enabled(ctx, slog.LevelDebug) || g.log.Enabled(ctx, slog.LevelDebug) {
		t.Fatal("a DEBUG connector must log debug while the service logs at INFO")
	}
	if quiet.Log.Enabled(ctx, slog.LevelWarn) {
		t.Fatal("an ERROR connector must not log warnings")
	}
}

func TestOversizedValueDoesNotBlockUplink(t *testing.T) {
	r := newRig(t, map[string]any{"connectors": []any{probeConn("P", "p.json")}},
		map[string]any{"p.json": map[string]any{"devices": []string{"dev"}, "big": 5000}})
	r.tb.SetSessionLimits(json.RawMessage(`{"maxPayloadSize":1000,"maxInflightMessages":100,"rateLimits":{},"gatewayRateLimits":{}}`))
	r.start()
	r.tb.WaitTelemetry("dev", "v", func(v any) bool { return v.(float64) >= 3 }, 15*time.Second)
	if _, ok := r.tb.Latest("dev", "big"); ok {
		t.Fatal("an oversized message reached ThingsBoard")
	}
	if n := r.g.stats.tooLarge.Load(); n != 1 {
		t.Fatalf("messagesTooLarge = %d", n)
	}
}

func TestRemoteConfiguration(t *testing.T) {
	r := newRig(t, map[string]any{
		"thingsboard": map[string]any{"remoteConfiguration": true},
		"connectors":  []any{probeConn("P", "p.json")},
	}, map[string]any{"p.json": map[string]any{"devices": []string{"local-dev"}}})
	r.start()
	r.tb.WaitConnected("local-dev", 10*time.Second)
	// The configuration is reported as client attributes.
	r.tb.Wait(10*time.Second, "configuration attributes", func() bool {
		a := r.tb.Attributes(tbtest.Self)
		p, _ := a["P"].(map[string]any)
		gc, _ := a["general_configuration"].(map[string]any)
		return p != nil && p["type"] == "probe" && gc != nil && gc["host"] == r.b.Host && a["storage_configuration"] != nil
	})

	// ThingsBoard pushes a new connector: it is validated, written, listed
	// and started.
	r.tb.SetGatewayAttributes(map[string]any{"Remote Probe": map[string]any{
		"name": "Remote Probe", "type": "probe", "configuration": "remote_probe.json",
		"configurationJson": map[string]any{"devices": []string{"remote-dev"}},
	}})
	r.tb.WaitTelemetry("remote-dev", "v", nil, 15*time.Second)
	if _, err := os.Stat(filepath.Join(r.dir, "remote_probe.json")); err != nil {
		t.Fatal(err)
	}
	main, _ := os.ReadFile(filepath.Join(r.dir, "tb_gateway.json"))
	if !strings.Contains(string(main), "remote_probe.json") {
		t.Fatalf("connector not listed: %s", main)
	}
	// A configuration its connector rejects changes nothing.
	r.tb.SetGatewayAttributes(map[string]any{"Remote Probe": map[string]any{
		"name": "Remote Probe", "type": "probe", "configurationJson": map[string]any{"devices": "not-a-list"},
	}})
	// active_connectors drops P: it stops and its device is disconnected.
	r.tb.SetGatewayAttributes(map[string]any{"active_connectors": []string{"Remote Probe"}})
	r.tb.WaitMessage("v1/gateway/disconnect", func(m tbtest.Msg) bool { return strings.Contains(string(m.Payload), "local-dev") }, 15*time.Second)
	b, _ := os.ReadFile(filepath.Join(r.dir, "remote_probe.json"))
	if !strings.Contains(string(b), "remote-dev") {
		t.Fatalf("rejected configuration was written: %s", b)
	}
	backups, _ := filepath.Glob(filepath.Join(r.dir, "backup", "tb_gateway.backup.*.json"))
	if len(backups) == 0 {
		t.Fatal("no backup of tb_gateway.json")
	}
}

func TestOverTheAirUpdate(t *testing.T) {
	r := newRig(t, map[string]any{"connectors": []any{probeConn("P", "p.json")}},
		map[string]any{"p.json": map[string]any{"devices": []string{"dev"}}})
	exe := filepath.Join(t.TempDir(), "tbgw")
	if err := os.WriteFile(exe, []byte("#!/bin/sh\necho old\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	firmware := []byte("#!/bin/sh\necho tbgw 2.0\n" + strings.Repeat("# padding to need several chunks\n", 5000))
	sum := sha256.Sum256(firmware)

	// ThingsBoard's firmware service: answer chunk requests.
	fwc := paho.NewClient(paho.NewClientOptions().AddBroker("tcp://" + r.b.Addr()).SetClientID("fw-service").SetUsername(tbtest.StandInUser))
	if tok := fwc.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	defer fwc.Disconnect(100)
	fwc.Subscribe("v2/fw/request/+/chunk/+", 1, func(c paho.Client, m paho.Message) {
		parts := strings.Split(m.Topic(), "/")
		n, _ := strconv.Atoi(parts[5])
		size, _ := strconv.Atoi(string(m.Payload()))
		from := min(n*size, len(firmware))
		to := min(from+size, len(firmware))
		c.Publish(strings.Replace(m.Topic(), "request", "response", 1), 1, false, firmware[from:to])
	}).Wait()

	cfg, err := config.Load(r.dir, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(logWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))
	g, err := New(cfg, Options{Version: "1.0", Log: log, NewLink: NewTBLink(log), Executable: exe, DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { done <- g.Run(ctx) }()
	r.tb.WaitConnected("dev", 10*time.Second)

	r.tb.SetGatewayAttributes(map[string]any{"fw_title": "tbgw", "fw_version": "2.0", "fw_size": len(firmware),
		"fw_checksum": hex.EncodeToString(sum[:]), "fw_checksum_algorithm": "SHA256"})
	select {
	case err := <-done:
		if !errors.Is(err, ErrRestart) {
			t.Fatalf("Run: %v, want ErrRestart", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no restart after the update")
	}
	got, _ := os.ReadFile(exe)
	if string(got) != string(firmware) {
		t.Fatal("executable not replaced by the firmware")
	}
	var states []string
	for _, rec := range r.tb.Telemetry(tbtest.Self) {
		if s, ok := rec.Values["fw_state"].(string); ok {
			states = append(states, s)
		}
	}
	if strings.Join(states, ",") != "DOWNLOADING,DOWNLOADED,VERIFIED,UPDATING" {
		t.Fatalf("fw_state sequence %v", states)
	}
}

func TestOverTheAirUpdateBadChecksumKeepsBinary(t *testing.T) {
	r := newRig(t, map[string]any{"connectors": []any{probeConn("P", "p.json")}},
		map[string]any{"p.json": map[string]any{"devices": []string{"dev"}}})
	exe := filepath.Join(t.TempDir(), "tbgw")
	os.WriteFile(exe, []byte("#!/bin/sh\necho old\n"), 0o755)
	fwc := paho.NewClient(paho.NewClientOptions().AddBroker("tcp://" + r.b.Addr()).SetClientID("fw-service").SetUsername(tbtest.StandInUser))
	if tok := fwc.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	defer fwc.Disconnect(100)
	fwc.Subscribe("v2/fw/request/+/chunk/+", 1, func(c paho.Client, m paho.Message) {
		c.Publish(strings.Replace(m.Topic(), "request", "response", 1), 1, false, []byte("#!/bin/sh\necho evil\n"))
	}).Wait()
	cfg, _ := config.Load(r.dir, func(string) string { return "" })
	log := slog.New(slog.NewTextHandler(logWriter{t}, nil))
	g, err := New(cfg, Options{Version: "1.0", Log: log, NewLink: NewTBLink(log), Executable: exe, DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- g.Run(ctx) }()
	defer func() { cancel(); <-done }()
	r.tb.WaitConnected("dev", 10*time.Second)
	r.tb.SetGatewayAttributes(map[string]any{"fw_title": "tbgw", "fw_version": "2.0", "fw_size": 21,
		"fw_checksum": strings.Repeat("0", 64), "fw_checksum_algorithm": "SHA256"})
	r.tb.WaitTelemetry(tbtest.Self, "fw_state", func(v any) bool { return v == "FAILED" }, 20*time.Second)
	if got, _ := os.ReadFile(exe); string(got) != "#!/bin/sh\necho old\n" {
		t.Fatal("binary replaced despite a bad checksum")
	}
}
