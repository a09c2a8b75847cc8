package main

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The run's log output: priority prefixes when asked for, upstream's
// logs.json files under the data directory, one component key per line.
func TestServeLogOutput(t *testing.T) {
	dir, data := t.TempDir(), t.TempDir()
	logs := `{"version":1,"handlers":{"consoleHandler":{"class":"logging.StreamHandler","level":0},
	 "tb_connectionHandler":{"class":"thingsboard_gateway.tb_utility.tb_rotating_file_handler.TimedRotatingFileHandler","filename":"./logs/tb_connection.log","backupCount":7,"interval":3,"when":"D","maxBytes":0}},
	 "loggers":{"tb_connection":{"level":"INFO","handlers":["tb_connectionHandler","consoleHandler"],"propagate":false}},
	 "root":{"level":"ERROR","handlers":["consoleHandler"]}}`
	if err := os.WriteFile(filepath.Join(dir, "logs.json"), []byte(logs), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("TB_GW_LOG_PRIORITY_PREFIX", "1")
	t.Setenv("TB_GW_LOGS_PATH", "")
	var stderr strings.Builder
	r := newLogOutput(&options{dir: dir, dataDir: data, logFormat: "json"}, &stderr)
	defer r.Close()
	if warns, err := r.ApplyFile(filepath.Join(dir, "logs.json")); err != nil || len(warns) > 0 {
		t.Fatal(err, warns)
	}
	log := slog.New(r.Handler()).With("component", "tb_connection")
	log.Info("connected to ThingsBoard", "component", "tb_connection")
	log.Error("connection lost")
	out := stderr.String()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "<6>{") || !strings.HasPrefix(lines[1], "<3>{") {
		t.Fatalf("console:\n%s", out)
	}
	if strings.Count(lines[0], `"component"`) != 1 {
		t.Fatalf("component twice: %s", lines[0])
	}
	b, err := os.ReadFile(filepath.Join(data, "logs", "tb_connection.log"))
	if err != nil || strings.Count(string(b), "\n") != 2 || strings.Contains(string(b), "<6>") {
		t.Fatalf("tb_connection.log: %q %v", b, err)
	}
}
