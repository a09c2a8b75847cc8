package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/tbgw/tbgw/gw/tbtest"
)

// buildBinary builds tbgw into a temporary directory.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "tbgw")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// TestBinarySignals runs the real binary with the write-ahead log: data
// flows, SIGHUP reloads a changed connector file, SIGTERM stops cleanly
// within the bound.
func TestBinarySignals(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := buildBinary(t)
	b := tbtest.StartBroker(t)
	tb := tbtest.NewThingsBoard(t, b.Host, b.Port)
	sim := simConfig(2, 100)
	dir := gwDir(t, b, `{"type":"file","data_folder_path":"./data/","fsync":"batch"}`, sim)

	cmd := exec.Command(bin, "-c", dir, "-data", dir)
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
	tb.WaitTelemetry("Sim Device 1", "counter", func(v any) bool { return v.(float64) >= 3 }, 20*time.Second)
	if _, err := os.Stat(filepath.Join(dir, "data")); err != nil {
		t.Fatalf("no WAL directory: %v", err)
	}

	// SIGHUP: a new telemetry key in the simulator's file shows up.
	sim["telemetry"] = append(sim["telemetry"].([]any), map[string]any{"key": "reloaded", "type": "constant", "value": 1})
	raw, _ := json.Marshal(sim)
	if err := os.WriteFile(filepath.Join(dir, "simulator.json"), raw, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd.Process.Signal(syscall.SIGHUP)
	tb.WaitTelemetry("Sim Device 2", "reloaded", nil, 20*time.Second)

	// SIGTERM: clean exit, code 0, within the shutdown bound.
	start := time.Now()
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-exited:
		exited <- err
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("no exit within 15 s of SIGTERM")
	}
	t.Logf("stopped %v after SIGTERM", time.Since(start).Round(time.Millisecond))
	if _, err := os.Stat(filepath.Join(dir, "connected_devices.json")); err != nil {
		t.Fatalf("registry not saved: %v", err)
	}
}
