package gw

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/tbgw/tbgw/gw/logging"
)

// logs_configuration (tb-gateway 8.1): the content of logs.json is
// reported as a client attribute; pushed by ThingsBoard, it is checked,
// applied to the log output (files with rotation, syslog, levels per
// logger), written to logs.json (the previous one in backup/) and echoed.
// A local change of logs.json is applied by the configuration watcher.

const logsFile = "logs.json"

func (g *Gateway) logsPath() string { return filepath.Join(g.cfg.Dir, logsFile) }

// logsAttr is the logs_configuration client attribute: logs.json and ts.
func (g *Gateway) logsAttr(ts int64) map[string]any {
	m := map[string]any{}
	if b, err := os.ReadFile(g.logsPath()); err == nil {
		if json.Unmarshal(b, &m) != nil {
			m = map[string]any{}
		}
	}
	m["ts"] = ts
	return m
}

// remoteLogs handles a pushed logs_configuration.
func (g *Gateway) remoteLogs(raw json.RawMessage) error {
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		return err
	}
	delete(m, "ts")
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	if old, err := os.ReadFile(g.logsPath()); err == nil && jsonEqual(old, b) {
		return nil
	}
	cfg, warns, err := logging.Parse(b)
	if err != nil {
		return err
	}
	for _, w := range warns {
		g.log.Warn("remote configuration: " + w)
	}
	if err := g.backup(g.logsPath()); err != nil {
		return err
	}
	if err := writeConfigFile(g.logsPath(), b); err != nil {
		return err
	}
	if g.opts.Logs != nil {
		if err := g.opts.Logs.Apply(cfg); err != nil {
			g.log.Warn("remote configuration: logs_configuration applied in part", "err", err)
		}
		g.logsSum.Store(fileSum(b))
	}
	g.log.Info("remote configuration: logs configuration applied")
	var echo map[string]any
	_ = json.Unmarshal(raw, &echo)
	g.publishControl(context.Background(), TopicOwnAttributes, map[string]any{"logs_configuration": echo})
	return nil
}

func fileSum(b []byte) string {
	h := sha256.Sum256(b)
	return string(h[:])
}

// applyLogsFile applies logs.json when it changed since last applied.
func (g *Gateway) applyLogsFile() {
	if g.opts.Logs == nil {
		return
	}
	b, err := os.ReadFile(g.logsPath())
	if errors.Is(err, os.ErrNotExist) {
		return
	}
	if err != nil {
		g.log.Warn("logs.json", "err", err)
		return
	}
	sum := fileSum(b)
	if prev, _ := g.logsSum.Load().(string); prev == sum {
		return
	}
	cfg, warns, err := logging.Parse(b)
	if err != nil {
		g.log.Error("logs.json rejected, keeping the running log configuration", "err", err)
		return
	}
	for _, w := range warns {
		g.log.Warn(w)
	}
	if err := g.opts.Logs.Apply(cfg); err != nil {
		g.log.Warn("logs.json applied in part", "err", fmt.Errorf("%w", err))
	}
	g.logsSum.Store(sum)
	g.log.Info("logs.json applied")
}
