package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tbgw/tbgw/gw/tbtest"
)

// buildVersion builds tbgw stamped with version into dir.
func buildVersion(t *testing.T, dir, version string) string {
	t.Helper()
	bin := filepath.Join(dir, "tbgw-"+version)
	cmd := exec.Command("go", "build", "-ldflags", "-X main.version="+version, "-o", bin, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// TestOTATrialRollbackAndCommit runs the real binary: a new "binary" that
// passes the version test but fails at start is rolled back (the previous
// binary restored, fw_state FAILED with the reason, not retried); then a
// real second build is committed after its health check (UPDATED, the
// previous binary deleted).
func TestOTATrialRollbackAndCommit(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary twice")
	}
	tmp := t.TempDir()
	v1 := buildVersion(t, tmp, "1.0")
	v2 := buildVersion(t, tmp, "2.0")
	old, _ := os.ReadFile(v1)
	newer, _ := os.ReadFile(v2)
	installDir := t.TempDir()
	exe := filepath.Join(installDir, "tbgw")
	if err := os.WriteFile(exe, old, 0o755); err != nil {
		t.Fatal(err)
	}

	b := tbtest.StartBroker(t)
	tb := tbtest.NewThingsBoard(t, b.Host, b.Port)
	dir := gwDir(t, b, memoryStorage, simConfig(1, 200))
	var main map[string]any
	raw, _ := os.ReadFile(filepath.Join(dir, "tb_gateway.json"))
	json.Unmarshal(raw, &main)
	main["thingsboard"].(map[string]any)["ota"] = map[string]any{"enabled": true, "healthCheckSeconds": 30}
	writeJSON(t, filepath.Join(dir, "tb_gateway.json"), main)

	data := t.TempDir()
	cmd := exec.Command(exe, "-c", dir, "-data", data)
	cmd.Stderr = testWriter{t}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
	})
	tb.WaitTelemetry("Sim Device 1", "counter", nil, 20*time.Second)

	// A broken new binary: runs `version`, exits 3 otherwise.
	broken := []byte("#!/bin/sh\nif [ \"$1\" = version ]; then echo tbgw 2.0-broken; exit 0; fi\necho broken >&2\nexit 3\n")
	tb.AssignFirmware("tbgw", "2.0-broken", broken)
	tb.WaitTelemetry(tbtest.Self, "fw_state", func(v any) bool { return v == "FAILED" }, 60*time.Second)
	why, _ := tb.Latest(tbtest.Self, "fw_error")
	if s, _ := why.(string); !strings.Contains(s, "exited during its health check") {
		t.Fatalf("fw_error %v", why)
	}
	if got, _ := os.ReadFile(exe); !bytes.Equal(got, old) {
		t.Fatal("previous binary not restored")
	}
	if _, err := os.Stat(exe + ".prev"); !os.IsNotExist(err) {
		t.Fatalf("%s.prev left: %v", exe, err)
	}
	// The restored gateway runs (same process) and does not retry the
	// failed firmware after its reconnect.
	n := tb.FirmwareRequests()
	seen := len(tb.Telemetry("Sim Device 1"))
	tb.Wait(20*time.Second, "data after the rollback", func() bool { return len(tb.Telemetry("Sim Device 1")) > seen+2 })
	if v, _ := tb.Latest(tbtest.Self, "current_fw_version"); v != "1.0" {
		t.Fatalf("current_fw_version %v after the rollback", v)
	}
	if tb.FirmwareRequests() != n {
		t.Fatal("failed firmware requested again")
	}

	// A real new version commits.
	tb.AssignFirmware("tbgw", "2.0", newer)
	tb.WaitTelemetry(tbtest.Self, "fw_state", func(v any) bool { return v == "UPDATED" }, 120*time.Second)
	if v, _ := tb.Latest(tbtest.Self, "current_fw_version"); v != "2.0" {
		t.Fatalf("current_fw_version %v after the update", v)
	}
	if got, _ := os.ReadFile(exe); !bytes.Equal(got, newer) {
		t.Fatal("new binary not in place")
	}
	if _, err := os.Stat(exe + ".prev"); !os.IsNotExist(err) {
		t.Fatalf("previous binary kept after the commit: %v", err)
	}
	if _, err := os.Stat(filepath.Join(data, ".tbgw-ota-pending")); !os.IsNotExist(err) {
		t.Fatalf("update marker left: %v", err)
	}
	select {
	case err := <-exited:
		t.Fatalf("gateway process exited: %v", err)
	default:
	}

	// Power lost during a trial: the next start (the new binary, with the
	// previous one beside it) runs the trial again and commits.
	cmd.Process.Kill()
	<-exited
	exited <- nil
	if err := os.WriteFile(exe+".prev", old, 0o755); err != nil {
		t.Fatal(err)
	}
	marker, _ := json.Marshal(map[string]any{"fw_title": "tbgw", "fw_version": "2.0", "state": "trial", "prev": exe + ".prev"})
	os.WriteFile(filepath.Join(data, ".tbgw-ota-pending"), marker, 0o600)
	updated := func() int {
		n := 0
		for _, r := range tb.Telemetry(tbtest.Self) {
			if r.Values["fw_state"] == "UPDATED" {
				n++
			}
		}
		return n
	}
	before := updated()
	cmd2 := exec.Command(exe, "-c", dir, "-data", data)
	cmd2.Stderr = testWriter{t}
	if err := cmd2.Start(); err != nil {
		t.Fatal(err)
	}
	exited2 := make(chan error, 1)
	go func() { exited2 <- cmd2.Wait() }()
	t.Cleanup(func() {
		cmd2.Process.Kill()
		<-exited2
	})
	tb.Wait(120*time.Second, "UPDATED after the resumed trial", func() bool { return updated() > before })
	if _, err := os.Stat(exe + ".prev"); !os.IsNotExist(err) {
		t.Fatalf("previous binary kept after the resumed trial: %v", err)
	}
}
