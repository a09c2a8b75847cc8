package gw

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tbgw/tbgw/gw/config"
	"github.com/tbgw/tbgw/gw/tbtest"
)

// A connecting device gets upstream's device-details attributes, once.
func TestDeviceDetailsAttributes(t *testing.T) {
	r := newRig(t, map[string]any{"connectors": []any{probeConn("Probe One", "p.json")}},
		map[string]any{"p.json": map[string]any{"devices": []string{"dev"}}})
	// The gateway reaches the broker through a relay, so its connection
	// can be cut while the stand-in stays subscribed.
	px := tbtest.StartProxy(t, r.b.Addr())
	r.write("tb_gateway.json", map[string]any{"thingsboard": map[string]any{"host": px.Host, "port": px.Port,
		"security": map[string]any{"accessToken": "tok"}}, "storage": map[string]any{"type": "memory"},
		"connectors": []any{probeConn("Probe One", "p.json")}})
	r.start()
	r.tb.WaitConnected("dev", 30*time.Second)
	m := r.tb.WaitMessage("v1/gateway/attributes", func(m tbtest.Msg) bool {
		return strings.Contains(string(m.Payload), "connectorType")
	}, 30*time.Second)
	if string(m.Payload) != `{"dev":{"connectorName":"Probe One","connectorType":"probe"}}` {
		t.Fatalf("device details %s", m.Payload)
	}
	// A reconnect re-announces the device but does not repeat the details.
	px.Cut()
	r.tb.Wait(60*time.Second, "re-announce", func() bool { return r.tb.Connects("dev") >= 2 })
	n := 0
	for _, m := range r.tb.Messages("v1/gateway/attributes") {
		if strings.Contains(string(m.Payload), "connectorType") {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("device details sent %d times", n)
	}
}

// Remote configuration keeps the mode of the files it rewrites, and of
// their backups; files it creates are 0600.
func TestRemoteConfigKeepsFileMode(t *testing.T) {
	r := newRig(t, map[string]any{
		"thingsboard": map[string]any{"remoteConfiguration": true},
		"connectors":  []any{probeConn("P", "p.json")},
	}, map[string]any{"p.json": map[string]any{"devices": []string{"dev"}}})
	main := filepath.Join(r.dir, "tb_gateway.json")
	if err := os.Chmod(main, 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(r.dir, "p.json"), 0o600); err != nil {
		t.Fatal(err)
	}
	r.start()
	r.tb.WaitConnected("dev", 10*time.Second)
	r.tb.SetGatewayAttributes(map[string]any{"New One": map[string]any{
		"name": "New One", "type": "probe", "configurationJson": map[string]any{"devices": []string{"new-dev"}},
	}})
	r.tb.WaitTelemetry("new-dev", "v", nil, 15*time.Second)
	r.tb.SetGatewayAttributes(map[string]any{"P": map[string]any{
		"name": "P", "type": "probe", "configurationJson": map[string]any{"devices": []string{"dev", "dev2"}},
	}})
	r.tb.WaitTelemetry("dev2", "v", nil, 15*time.Second)
	mode := func(p string) os.FileMode {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		return fi.Mode().Perm()
	}
	if m := mode(main); m != 0o640 {
		t.Errorf("tb_gateway.json mode %o, want 640", m)
	}
	if m := mode(filepath.Join(r.dir, "p.json")); m != 0o600 {
		t.Errorf("p.json mode %o, want 600", m)
	}
	if m := mode(filepath.Join(r.dir, "new_one.json")); m != 0o600 {
		t.Errorf("new_one.json mode %o, want 600", m)
	}
	backups, _ := filepath.Glob(filepath.Join(r.dir, "backup", "*.json"))
	if len(backups) < 2 {
		t.Fatalf("backups %v", backups)
	}
	for _, b := range backups {
		want := os.FileMode(0o600)
		if strings.Contains(b, "tb_gateway") {
			want = 0o640
		}
		if m := mode(b); m != want {
			t.Errorf("%s mode %o, want %o", filepath.Base(b), m, want)
		}
	}
	if m := mode(filepath.Join(r.dir, "backup")); m != 0o700 {
		t.Errorf("backup dir mode %o", m)
	}
	var js map[string]any
	b, _ := os.ReadFile(main)
	if json.Unmarshal(b, &js) != nil {
		t.Fatal("main file unreadable")
	}
}

// runGateway starts a gateway on the rig's directory without the rig's
// lifecycle, for tests that expect Run to return ErrRestart.
func (r *rig) runGateway(trial time.Duration) (stop func(), done chan error) {
	r.t.Helper()
	cfg, err := config.Load(r.dir, func(string) string { return "" })
	if err != nil {
		r.t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(logWriter{r.t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	g, err := New(cfg, Options{Version: "test", Log: log, NewLink: NewTBLink(log), ConnectTrial: trial})
	if err != nil {
		r.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done = make(chan error, 1)
	exited := make(chan struct{})
	go func() {
		err := g.Run(ctx)
		close(exited)
		done <- err
	}()
	stop = func() {
		cancel()
		select {
		case <-exited:
		case <-time.After(20 * time.Second):
			r.t.Error("gateway did not stop")
		}
	}
	r.t.Cleanup(stop)
	return stop, done
}

func waitRestart(t *testing.T, done chan error, within time.Duration) {
	t.Helper()
	select {
	case err := <-done:
		if !errors.Is(err, ErrRestart) {
			t.Fatalf("Run returned %v, want ErrRestart", err)
		}
	case <-time.After(within):
		t.Fatalf("no restart within %s", within)
	}
}

// A pushed general_configuration with a wrong host is tried, rolled back
// within the bound, and the gateway reconnects with the previous
// configuration and reports; pushed again on reconnect, it is ignored.
func TestRemoteGeneralConfigurationFallsBack(t *testing.T) {
	r := newRig(t, map[string]any{
		"thingsboard": map[string]any{"remoteConfiguration": true},
		"connectors":  []any{probeConn("P", "p.json")},
	}, map[string]any{"p.json": map[string]any{"devices": []string{"dev"}}})
	_, done := r.runGateway(time.Second)
	r.tb.WaitConnected("dev", 10*time.Second)
	gc := r.tb.WaitAttribute(tbtest.Self, "general_configuration", nil, 10*time.Second).(map[string]any)
	bad := map[string]any{}
	for k, v := range gc {
		bad[k] = v
	}
	bad["host"] = "wrong-host.invalid"
	bad["ts"] = 1
	r.tb.SetAttributeTable(tbtest.Self, false, map[string]any{"general_configuration": bad})
	r.tb.SetGatewayAttributes(map[string]any{"general_configuration": bad})
	waitRestart(t, done, 15*time.Second)
	main, _ := os.ReadFile(filepath.Join(r.dir, "tb_gateway.json"))
	if !strings.Contains(string(main), "wrong-host.invalid") {
		t.Fatalf("new configuration not written: %s", main)
	}

	// The restart with the wrong host does not connect within the bound:
	// the previous file is back and the gateway restarts again.
	_, done = r.runGateway(time.Second)
	waitRestart(t, done, 20*time.Second)
	main, _ = os.ReadFile(filepath.Join(r.dir, "tb_gateway.json"))
	if strings.Contains(string(main), "wrong-host.invalid") || !strings.Contains(string(main), r.b.Host) {
		t.Fatalf("previous configuration not restored: %s", main)
	}

	// With the previous configuration it connects and reports.
	connects := r.tb.Connects("dev")
	_, done = r.runGateway(time.Second)
	rep := r.tb.WaitAttribute(tbtest.Self, "generalConfigurationError", nil, 15*time.Second).(map[string]any)
	if reason, _ := rep["reason"].(string); !strings.Contains(reason, "wrong-host.invalid") {
		t.Fatalf("report %v", rep)
	}
	// ThingsBoard hands the rejected configuration over again on connect;
	// it is not tried again.
	r.tb.Wait(15*time.Second, "device re-announced", func() bool { return r.tb.Connects("dev") > connects })
	r.tb.SetGatewayAttributes(map[string]any{"general_configuration": bad})
	n := len(r.tb.Telemetry("dev"))
	r.tb.Wait(15*time.Second, "more data", func() bool { return len(r.tb.Telemetry("dev")) > n+20 })
	select {
	case err := <-done:
		t.Fatalf("gateway stopped again: %v", err)
	default:
	}
	b, _ := os.ReadFile(filepath.Join(r.dir, TrialFile))
	if !strings.Contains(string(b), `"state":"rejected"`) || strings.Contains(string(b), "accessToken") {
		t.Fatalf("trial file %s", b)
	}
}

// A new connection that works is kept, and statistics commands pushed with
// general_configuration land in statistics.json.
func TestRemoteGeneralConfigurationKept(t *testing.T) {
	r := newRig(t, map[string]any{
		"thingsboard": map[string]any{"remoteConfiguration": true},
		"connectors":  []any{probeConn("P", "p.json")},
	}, map[string]any{"p.json": map[string]any{"devices": []string{"dev"}}})
	_, done := r.runGateway(10 * time.Second)
	gc := r.tb.WaitAttribute(tbtest.Self, "general_configuration", nil, 10*time.Second).(map[string]any)
	st, _ := gc["statistics"].(map[string]any)
	if _, ok := st["commands"]; !ok || st["statsSendPeriodInSeconds"] != 60.0 {
		t.Fatalf("statistics as reported: %v", st)
	}
	next := map[string]any{}
	for k, v := range gc {
		next[k] = v
	}
	next["host"] = "localhost"
	next["statistics"] = map[string]any{"enable": true, "enableCustom": true, "configuration": "statistics.json",
		"commands": []any{map[string]any{"attributeOnGateway": "answer", "command": "echo 42", "timeout": 5}}}
	r.tb.SetGatewayAttributes(map[string]any{"general_configuration": next})
	waitRestart(t, done, 15*time.Second)
	b, err := os.ReadFile(filepath.Join(r.dir, "statistics.json"))
	if err != nil || !strings.Contains(string(b), "echo 42") {
		t.Fatalf("statistics.json: %s %v", b, err)
	}
	_, done = r.runGateway(10 * time.Second)
	r.tb.WaitTelemetry(tbtest.Self, "answer", nil, 15*time.Second)
	r.tb.Wait(15*time.Second, "trial committed", func() bool {
		_, err := os.Stat(filepath.Join(r.dir, TrialFile))
		return errors.Is(err, os.ErrNotExist)
	})
	main, _ := os.ReadFile(filepath.Join(r.dir, "tb_gateway.json"))
	if !strings.Contains(string(main), `"localhost"`) || strings.Contains(string(main), "echo 42") {
		t.Fatalf("main file %s", main)
	}
	select {
	case err := <-done:
		t.Fatalf("gateway stopped: %v", err)
	default:
	}
}
