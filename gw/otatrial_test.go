package gw

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// trialSetup installs script as the "new binary" with a previous binary
// and a pending trial marker.
func trialSetup(t *testing.T, script string) (exe, data string) {
	t.Helper()
	dir, data := t.TempDir(), t.TempDir()
	exe = filepath.Join(dir, "tbgw")
	os.WriteFile(exe+".prev", []byte("previous binary"), 0o755)
	os.WriteFile(exe, []byte(script), 0o755)
	if err := writeMarker(data, otaMarker{fwInfo: fwInfo{Title: "tbgw", Version: "2.0"}, State: "trial", Prev: exe + ".prev"}); err != nil {
		t.Fatal(err)
	}
	if !TrialPending(data) {
		t.Fatal("trial not pending")
	}
	return exe, data
}

func runTrial(t *testing.T, exe, data string, bound time.Duration) error {
	log := slog.New(slog.NewTextHandler(logWriter{t}, nil))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	return RunTrial(ctx, Trial{Exe: exe, Args: []string{"-c", "x"}, Env: os.Environ(), DataDir: data, Bound: bound, Log: log})
}

func TestTrialCommit(t *testing.T) {
	exe, data := trialSetup(t, "#!/bin/sh\necho 'waiting: not connected to ThingsBoard' >&3\necho ok >&3\ntrap 'exit 0' TERM\nwhile :; do sleep 0.1; done\n")
	if err := runTrial(t, exe, data, 20*time.Second); err != nil {
		t.Fatalf("trial: %v", err)
	}
	if m, _ := readMarker(data); m.State != "committed" {
		t.Fatalf("marker %+v", m)
	}
	if _, err := os.Stat(exe + ".prev"); !os.IsNotExist(err) {
		t.Fatal("previous binary kept after the commit")
	}
}

func TestTrialRollbackOnExit(t *testing.T) {
	exe, data := trialSetup(t, "#!/bin/sh\necho 'waiting: connector \"m\" not running' >&3\nexit 3\n")
	err := runTrial(t, exe, data, 20*time.Second)
	if err == nil || !strings.Contains(err.Error(), "exit status 3") || !strings.Contains(err.Error(), `connector "m" not running`) {
		t.Fatalf("trial: %v", err)
	}
	if b, _ := os.ReadFile(exe); string(b) != "previous binary" {
		t.Fatal("previous binary not restored")
	}
	if m, _ := readMarker(data); m.State != "failed" || !strings.Contains(m.Reason, "exit status 3") {
		t.Fatalf("marker %+v", m)
	}
}

func TestTrialRollbackOnTimeout(t *testing.T) {
	exe, data := trialSetup(t, "#!/bin/sh\necho 'waiting: not connected to ThingsBoard' >&3\ntrap 'exit 0' TERM\nwhile :; do sleep 0.1; done\n")
	start := time.Now()
	err := runTrial(t, exe, data, time.Second)
	if err == nil || !strings.Contains(err.Error(), "not healthy within 1s: not connected to ThingsBoard") {
		t.Fatalf("trial: %v", err)
	}
	if time.Since(start) > 30*time.Second {
		t.Fatalf("rollback took %v", time.Since(start))
	}
	if b, _ := os.ReadFile(exe); string(b) != "previous binary" {
		t.Fatal("previous binary not restored")
	}
	if TrialPending(data) {
		t.Fatal("trial still pending")
	}
}
