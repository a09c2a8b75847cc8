package gw

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tbgw/tbgw/gw/tbtest"
)

// A connecting device gets upstream's device-details attributes, once.
func TestDeviceDetailsAttributes(t *testing.T) {
	r := newRig(t, map[string]any{"connectors": []any{probeConn("Probe One", "p.json")}},
		map[string]any{"p.json": map[string]any{"devices": []string{"dev"}}})
	r.start()
	r.tb.WaitConnected("dev", 10*time.Second)
	m := r.tb.WaitMessage("v1/gateway/attributes", func(m tbtest.Msg) bool {
		return strings.Contains(string(m.Payload), "connectorType")
	}, 10*time.Second)
	if string(m.Payload) != `{"dev":{"connectorName":"Probe One","connectorType":"probe"}}` {
		t.Fatalf("device details %s", m.Payload)
	}
	// A reconnect re-announces the device but does not repeat the details.
	r.b.Stop()
	r.b.Start()
	r.tb.WaitSessions(2, 20*time.Second)
	r.tb.Wait(20*time.Second, "re-announce", func() bool { return r.tb.Connects("dev") >= 2 })
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
