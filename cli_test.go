package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tbgw/tbgw/gw"
	"github.com/tbgw/tbgw/gw/config"
)

// runCLI runs the command line in process, failing the test if it does
// not return within a bound (a command that started the gateway would not).
func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var o, e bytes.Buffer
	done := make(chan int, 1)
	go func() { done <- run(args, &o, &e) }()
	select {
	case code = <-done:
	case <-time.After(60 * time.Second):
		t.Fatalf("tbgw %v did not return within 60 s", args)
	}
	return code, o.String(), e.String()
}

func TestHelpListsCommands(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"-h"}, {"help"}, {"-c", "/nonexistent", "check", "--help"}} {
		code, out, _ := runCLI(t, args...)
		if code != exitOK {
			t.Errorf("%v: exit %d, want 0", args, code)
		}
		for _, c := range []string{"run", "check", "status", "version", "-dry-run", "-once", "-status-socket", "-http", "78"} {
			if !strings.Contains(out, c) {
				t.Errorf("%v: usage lacks %q:\n%s", args, c, out)
			}
		}
	}
}

func TestVersion(t *testing.T) {
	for _, args := range [][]string{{"--version"}, {"-version"}, {"version"}} {
		code, out, _ := runCLI(t, args...)
		if code != exitOK || !strings.HasPrefix(out, "tbgw "+version+" connectors: [") {
			t.Errorf("%v: exit %d, output %q", args, code, out)
		}
	}
}

func TestUnknownWordsRejected(t *testing.T) {
	dir := simDir(t)
	for _, args := range [][]string{
		{"bogus"},
		{"-c", dir, "chek"},
		{"-c", dir, "check", "now"},
		{"check", "run"},
		{"--no-such-flag"},
		{"check", "-once"},        // a run flag on check
		{"status", "-dry-run"},    // a run flag on status
		{"run", "-timeout", "5s"}, // -timeout without -once or -dry-run
		{"run", "-log-format", "xml"},
	} {
		code, out, errOut := runCLI(t, args...)
		if code != exitUsage {
			t.Errorf("%v: exit %d, want %d", args, code, exitUsage)
		}
		if out != "" || !strings.Contains(errOut, "Usage: tbgw") || !strings.Contains(errOut, "check") {
			t.Errorf("%v: stdout %q, stderr:\n%s", args, out, errOut)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 2 {
		t.Errorf("config directory changed: %v", entries)
	}
}

// simDir writes a configuration directory with one simulator connector,
// file storage, and a ThingsBoard address nothing listens on.
func simDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	writeJSON(t, filepath.Join(dir, "tb_gateway.json"), map[string]any{
		"thingsboard": map[string]any{"host": "127.0.0.1", "port": 1, "security": map[string]any{"accessToken": "t"}},
		"storage":     map[string]any{"type": "file", "data_folder_path": "./data/"},
		"connectors":  []any{map[string]any{"type": "simulator", "name": "Sim", "configuration": "simulator.json"}},
	})
	writeJSON(t, filepath.Join(dir, "simulator.json"), simConfig(2, 100))
	return dir
}

// tree lists the files under dir with their size and modification time.
func tree(t *testing.T, dir string) map[string]string {
	t.Helper()
	m := map[string]string{}
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		m[p] = fmt.Sprint(fi.Mode(), fi.ModTime(), fi.Size())
		return nil
	})
	return m
}

// `tbgw -c DIR check` (flags before the command) checks and returns: it
// neither starts the gateway nor writes into DIR or the data directory.
func TestCheckDoesNotStartOrWrite(t *testing.T) {
	dir := simDir(t)
	state := filepath.Join(t.TempDir(), "state")
	before := tree(t, dir)
	for _, args := range [][]string{
		{"-c", dir, "-data", state, "check"},
		{"check", "-c", dir, "-data", state},
		{"-c", dir, "check", "-data", state, "-strict"},
	} {
		code, out, errOut := runCLI(t, args...)
		if code != exitOK || !strings.Contains(out, "configuration OK (1 connectors") {
			t.Fatalf("%v: exit %d\n%s%s", args, code, out, errOut)
		}
	}
	after := tree(t, dir)
	if len(before) != len(after) {
		t.Errorf("config directory changed:\nbefore %v\nafter  %v", before, after)
	}
	for p, v := range before {
		if after[p] != v {
			t.Errorf("%s changed", p)
		}
	}
	if _, err := os.Stat(state); !os.IsNotExist(err) {
		t.Errorf("check created the data directory: %v", err)
	}
}

// check builds the ThingsBoard client settings and the storage: what
// would fail at start fails the check, with the configuration exit code.
func TestCheckDepth(t *testing.T) {
	cases := []struct {
		name string
		tb   map[string]any
		data func(t *testing.T) string
		want string
	}{
		{"missing caCert", map[string]any{"host": "h", "port": 8883, "security": map[string]any{"accessToken": "t", "caCert": "ca.pem"}}, nil, "caCert"},
		{"missing credentials", map[string]any{"host": "h", "security": map[string]any{"type": "accessToken"}}, nil, "accessToken: required"},
		{"no security at all", map[string]any{"host": "h"}, nil, "no accessToken, username or cert/privateKey"},
		{"x509 without key", map[string]any{"host": "h", "security": map[string]any{"type": "x509Certificate", "cert": "c.pem"}}, nil, "cert and privateKey are required"},
		{"data dir is a file", map[string]any{"host": "h", "security": map[string]any{"accessToken": "t"}}, func(t *testing.T) string {
			p := filepath.Join(t.TempDir(), "file")
			os.WriteFile(p, nil, 0o600)
			return p
		}, "is not a directory"},
		{"data dir under a file", map[string]any{"host": "h", "security": map[string]any{"accessToken": "t"}}, func(t *testing.T) string {
			p := filepath.Join(t.TempDir(), "file")
			os.WriteFile(p, nil, 0o600)
			return filepath.Join(p, "state")
		}, "not a directory"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			writeJSON(t, filepath.Join(dir, "tb_gateway.json"), map[string]any{"thingsboard": c.tb, "storage": map[string]any{"type": "file"}})
			data := t.TempDir()
			if c.data != nil {
				data = c.data(t)
			}
			code, _, errOut := runCLI(t, "check", "-c", dir, "-data", data)
			if code != exitConfig || !strings.Contains(errOut, c.want) {
				t.Fatalf("exit %d (want %d), stderr lacks %q:\n%s", code, exitConfig, c.want, errOut)
			}
			// Starting fails the same way, as a configuration error where
			// it is one (a data directory may become usable: runtime).
			want := exitConfig
			if c.data != nil {
				want = exitRuntime
			}
			if code, _, errOut := runCLI(t, "run", "-c", dir, "-data", data); code != want {
				t.Fatalf("run: exit %d, want %d\n%s", code, want, errOut)
			}
		})
	}
}

func TestConfigErrorExitCode(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "tb_gateway.json"), []byte(`{"thingsboard": {"host": "h", "qos": "one"}}`), 0o644)
	if code, _, errOut := runCLI(t, "-c", dir, "-data", t.TempDir()); code != exitConfig {
		t.Fatalf("run with a bad file: exit %d, want %d\n%s", code, exitConfig, errOut)
	}
	if code, _, _ := runCLI(t, "-c", filepath.Join(dir, "missing"), "-data", t.TempDir()); code != exitConfig {
		t.Fatalf("run without a configuration: exit %d, want %d", code, exitConfig)
	}
}

func TestDataDirDefault(t *testing.T) {
	env := map[string]string{}
	getenv := func(k string) string { return env[k] }
	o, _, err := parseArgs(nil, getenv)
	if err != nil || o.dataDir != "/var/lib/tbgw" || o.dir != "/etc/tbgw" || o.cmd != "run" {
		t.Fatalf("defaults: %+v, %v", o, err)
	}
	env["TB_GW_DATA_DIR"], env["TB_GW_CONFIG_DIR"] = "/srv/state", "/srv/conf"
	if o, _, _ = parseArgs([]string{"check"}, getenv); o.dataDir != "/srv/state" || o.dir != "/srv/conf" {
		t.Fatalf("environment: %+v", o)
	}
	if o, _, _ = parseArgs([]string{"check", "-data", "/x"}, getenv); o.dataDir != "/x" {
		t.Fatalf("flag over environment: %+v", o)
	}
}

// An upstream sqlite storage, data_file_path "./data/data.db" with the
// Python gateway's database in place: check warns and passes, and the
// gateway starts, its log in the database's directory, the database left
// alone.
func TestUpstreamDataDB(t *testing.T) {
	for _, path := range []string{"./data/data.db", "./data/"} {
		t.Run(path, func(t *testing.T) {
			dir, data := t.TempDir(), t.TempDir()
			writeJSON(t, filepath.Join(dir, "tb_gateway.json"), map[string]any{
				"thingsboard": map[string]any{"host": "127.0.0.1", "port": 1, "security": map[string]any{"accessToken": "t"}},
				"storage":     map[string]any{"type": "sqlite", "data_file_path": path},
			})
			os.Mkdir(filepath.Join(data, "data"), 0o700)
			db := filepath.Join(data, "data", "data.db")
			os.WriteFile(db, []byte("SQLite format 3\x00"), 0o600)
			code, out, errOut := runCLI(t, "check", "-c", dir, "-data", data)
			if code != exitOK || !strings.Contains(errOut, "storage files of the Python gateway (data.db)") {
				t.Fatalf("check: exit %d\n%s%s", code, out, errOut)
			}
			cfg, err := config.Load(dir, func(string) string { return "" })
			if err != nil {
				t.Fatal(err)
			}
			g, err := gw.New(cfg, gw.Options{DataDir: data, NewLink: gw.NewPrintLink(&bytes.Buffer{}), Log: testLogger(t)})
			if err != nil {
				t.Fatalf("start with the upstream data.db in place: %v", err)
			}
			g.Store().Close()
			if b, err := os.ReadFile(db); err != nil || string(b) != "SQLite format 3\x00" {
				t.Fatalf("data.db touched: %q, %v", b, err)
			}
		})
	}
}

// dryRunLines decodes the JSON lines of a dry run.
func dryRunLines(t *testing.T, out string) []struct {
	Topic   string          `json:"topic"`
	Payload json.RawMessage `json:"payload"`
} {
	t.Helper()
	var lines []struct {
		Topic   string          `json:"topic"`
		Payload json.RawMessage `json:"payload"`
	}
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		var v struct {
			Topic   string          `json:"topic"`
			Payload json.RawMessage `json:"payload"`
		}
		if err := json.Unmarshal([]byte(l), &v); err != nil {
			t.Fatalf("not a JSON line: %q: %v", l, err)
		}
		lines = append(lines, v)
	}
	return lines
}

// `run -once` runs the simulator, prints its first telemetry as the
// gateway would publish it, and exits, touching neither the configuration
// nor the data directory.
func TestDryRunOnceSimulator(t *testing.T) {
	dir := simDir(t)
	state := filepath.Join(t.TempDir(), "state")
	before := tree(t, dir)
	code, out, errOut := runCLI(t, "run", "-once", "-c", dir, "-data", state)
	if code != exitOK {
		t.Fatalf("exit %d\n%s", code, errOut)
	}
	seen := map[string]bool{}
	for _, l := range dryRunLines(t, out) {
		seen[l.Topic] = true
		if l.Topic == gw.TopicTelemetry && !strings.Contains(string(l.Payload), `"counter":1`) {
			t.Errorf("telemetry: %s", l.Payload)
		}
	}
	for _, topic := range []string{gw.TopicTelemetry, gw.TopicAttributes, gw.TopicConnect} {
		if !seen[topic] {
			t.Errorf("no %s in the output:\n%s", topic, out)
		}
	}
	if after := tree(t, dir); len(after) != len(before) {
		t.Errorf("config directory changed: %v", after)
	}
	if _, err := os.Stat(state); !os.IsNotExist(err) {
		t.Errorf("dry run created the data directory: %v", err)
	}
}

// A connector that produces nothing within the bound fails -once.
func TestDryRunOnceBound(t *testing.T) {
	dir := t.TempDir()
	writeJSON(t, filepath.Join(dir, "tb_gateway.json"), map[string]any{
		"thingsboard": map[string]any{"host": "127.0.0.1"},
		"connectors":  []any{map[string]any{"type": "simulator", "name": "Slow", "configuration": "s.json"}},
	})
	writeJSON(t, filepath.Join(dir, "s.json"), map[string]any{"devices": 1, "periodMs": 3600000, "telemetry": []any{}, "attributes": []any{}})
	code, _, errOut := runCLI(t, "run", "-once", "-timeout", "300ms", "-c", dir)
	if code != exitRuntime || !strings.Contains(errOut, `connector "Slow" (simulator): no data within 300ms`) {
		t.Fatalf("exit %d\n%s", code, errOut)
	}
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, nil))
}
