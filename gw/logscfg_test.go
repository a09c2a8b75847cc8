package gw

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tbgw/tbgw/gw/config"
	"github.com/tbgw/tbgw/gw/logging"
	"github.com/tbgw/tbgw/gw/tbtest"
)

func fileHas(path, s string) func() bool {
	return func() bool {
		b, err := os.ReadFile(path)
		return err == nil && strings.Contains(string(b), s)
	}
}

// logs_configuration pushed by ThingsBoard is applied on the device (a
// rotated file for the service logger), written to logs.json and echoed;
// a local change of logs.json is applied by the reload.
func TestRemoteLogsConfiguration(t *testing.T) {
	r := newRig(t, map[string]any{
		"thingsboard": map[string]any{"remoteConfiguration": true},
		"connectors":  []any{probeConn("P", "p.json")},
	}, map[string]any{"p.json": map[string]any{"devices": []string{"dev"}}})
	if err := os.WriteFile(filepath.Join(r.dir, "logs.json"), []byte(`{"version":1,"handlers":{"consoleHandler":{"class":"logging.StreamHandler","level":0}},
	 "loggers":{"service":{"level":"INFO","handlers":["consoleHandler"],"propagate":false}},"root":{"level":"ERROR","handlers":["consoleHandler"]}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	router := logging.New(logging.Options{Console: logWriter{t}, Dir: r.dir})
	defer router.Close()
	if _, err := router.ApplyFile(filepath.Join(r.dir, "logs.json")); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(r.dir, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(router.Handler())
	g, err := New(cfg, Options{Version: "test", Log: log, Handler: router.Handler(), Logs: router,
		NewLink: NewTBLink(log), Reload: r.reload})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- g.Run(ctx) }()
	defer func() { cancel(); <-done }()

	lc := r.tb.WaitAttribute(tbtest.Self, "logs_configuration", nil, 10*time.Second).(map[string]any)
	if lc["loggers"] == nil || lc["ts"] == nil {
		t.Fatalf("logs_configuration reported as %v", lc)
	}
	push := map[string]any{"version": 1, "disable_existing_loggers": false,
		"handlers": map[string]any{
			"consoleHandler": map[string]any{"class": "logging.StreamHandler", "level": 0, "stream": "ext://sys.stdout"},
			"serviceHandler": map[string]any{"class": "thingsboard_gateway.tb_utility.tb_rotating_file_handler.TimedRotatingFileHandler",
				"filename": "./logs/service.log", "backupCount": 1, "maxBytes": 100000, "when": "D", "interval": 3},
		},
		"loggers": map[string]any{
			"service":       map[string]any{"level": "DEBUG", "handlers": []string{"serviceHandler", "consoleHandler"}, "propagate": false},
			"tb_connection": map[string]any{"level": "none", "handlers": []string{"consoleHandler"}, "propagate": false},
		},
		"root": map[string]any{"level": "ERROR", "handlers": []string{"consoleHandler"}},
		"ts":   12345,
	}
	r.tb.SetGatewayAttributes(map[string]any{"logs_configuration": push})
	svcLog := filepath.Join(r.dir, "logs", "service.log")
	r.tb.Wait(10*time.Second, "service.log written", fileHas(svcLog, "logs configuration applied"))
	r.tb.Wait(10*time.Second, "echo", func() bool {
		a, _ := r.tb.Attributes(tbtest.Self)["logs_configuration"].(map[string]any)
		return a != nil && a["ts"] == 12345.0 && a["handlers"] != nil
	})
	b, _ := os.ReadFile(filepath.Join(r.dir, "logs.json"))
	if !strings.Contains(string(b), "serviceHandler") || strings.Contains(string(b), `"ts"`) {
		t.Fatalf("logs.json %s", b)
	}
	if backups, _ := filepath.Glob(filepath.Join(r.dir, "backup", "logs.backup.*.json")); len(backups) != 1 {
		t.Fatalf("backups %v", backups)
	}
	// An unusable configuration is refused and changes nothing.
	r.tb.SetGatewayAttributes(map[string]any{"logs_configuration": map[string]any{"loggers": map[string]any{"service": map[string]any{"level": "LOUD"}}}})
	r.tb.Wait(10*time.Second, "rejection logged", fileHas(svcLog, "remote configuration rejected"))
	if b2, _ := os.ReadFile(filepath.Join(r.dir, "logs.json")); string(b2) != string(b) {
		t.Fatalf("logs.json changed to %s", b2)
	}

	// A local edit is applied by the reload.
	local := strings.ReplaceAll(string(b), "./logs/service.log", "./logs/other.log")
	if err := os.WriteFile(filepath.Join(r.dir, "logs.json"), []byte(local), 0o600); err != nil {
		t.Fatal(err)
	}
	r.reload <- struct{}{}
	r.tb.Wait(10*time.Second, "other.log written", fileHas(filepath.Join(r.dir, "logs", "other.log"), "logs.json applied"))
}
