package gw

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/tbgw/tbgw/drivers/kit/atomicfile"
	"github.com/tbgw/tbgw/gw/config"
)

// A general_configuration pushed by ThingsBoard that changes the
// connection (host, port, qos, security, provisioning) is tried, not
// trusted: the previous tb_gateway.json is kept in the trial file, the new
// one written, and the gateway restarts with it. If it has not connected
// to ThingsBoard within Options.ConnectTrial (default 30 s, upstream's
// bound), the previous file is restored and the gateway restarts again;
// once connected with the old configuration it reports the failure (an
// ERROR log line, so SERVICE_LOGS and ERRORS_COUNT carry it, and the client
// attribute generalConfigurationError). The trial file survives a crash
// during the trial, so a new trial window starts after it.

// TrialFile holds a pending or failed connection trial (in the data
// directory, 0600: it holds the previous configuration).
const TrialFile = "remote_connection_trial.json"

// DefaultConnectTrial is how long a new ThingsBoard connection has to
// connect before the previous configuration is restored.
const DefaultConnectTrial = 30 * time.Second

type connTrial struct {
	State    string `json:"state"` // "trying" or "failed"
	Previous string `json:"previous"`
	Server   string `json:"server"` // new host:port, for the log
	Reason   string `json:"reason,omitempty"`
	Sum      string `json:"sum"` // of the tried section, to ignore it when pushed again
	TS       int64  `json:"ts"`  // when the configuration arrived (ms)
}

func (g *Gateway) trialPath() string { return filepath.Join(g.opts.DataDir, TrialFile) }

func (g *Gateway) connectTrial() time.Duration {
	if g.opts.ConnectTrial > 0 {
		return g.opts.ConnectTrial
	}
	return DefaultConnectTrial
}

// connectionChanged reports whether the connection keys differ.
func connectionChanged(cur, next map[string]any) bool {
	for _, k := range []string{"host", "port", "qos", "security", "provisioning", "proxy_host", "proxy_port"} {
		a, _ := json.Marshal(cur[k])
		b, _ := json.Marshal(next[k])
		if !jsonEqual(a, b) {
			return true
		}
	}
	return false
}

// writeStatisticsCommands writes the commands of a pushed
// general_configuration.statistics to its statistics file (as upstream)
// and removes them from the section.
func (g *Gateway) writeStatisticsCommands(sec map[string]any) (bool, error) {
	st, ok := sec["statistics"].(map[string]any)
	if !ok {
		return false, nil
	}
	cmds, ok := st["commands"]
	delete(st, "commands")
	list, _ := cmds.([]any)
	if !ok || len(list) == 0 {
		return false, nil
	}
	file, _ := st["configuration"].(string)
	if file == "" {
		file = "statistics.json"
		st["configuration"] = file
	}
	if filepath.IsAbs(file) || filepath.Clean(file) != filepath.Base(file) {
		return false, fmt.Errorf("statistics.configuration %q outside the configuration directory", file)
	}
	b, err := json.MarshalIndent(list, "", "  ")
	if err != nil {
		return false, err
	}
	if _, err := loadCustomStatsBytes(b); err != nil {
		return false, fmt.Errorf("statistics.commands: %w", err)
	}
	path := filepath.Join(g.cfg.Dir, file)
	if old, err := os.ReadFile(path); err == nil && jsonEqual(old, b) {
		return false, nil
	}
	if err := g.backup(path); err != nil {
		return false, err
	}
	return true, writeConfigFile(path, b)
}

// startConnectionTrial records the previous main file and the new server
// before the new configuration is written.
func (g *Gateway) startConnectionTrial(prev []byte, next map[string]any) error {
	host, _ := next["host"].(string)
	t := connTrial{State: "trying", Previous: string(prev), Server: fmt.Sprintf("%s:%v", host, next["port"]),
		TS: g.now().UnixMilli(), Sum: sectionSum(next)}
	b, _ := json.Marshal(t)
	if err := atomicfile.MkdirPrivate(g.opts.DataDir); err != nil {
		return err
	}
	return atomicfile.Write(g.trialPath(), b, 0o600)
}

// sectionSum identifies a pushed section (without ts and statistics
// commands).
func sectionSum(sec map[string]any) string {
	c := make(map[string]any, len(sec))
	for k, v := range sec {
		if k != "ts" {
			c[k] = v
		}
	}
	if st, ok := c["statistics"].(map[string]any); ok {
		cp := make(map[string]any, len(st))
		for k, v := range st {
			if k != "commands" {
				cp[k] = v
			}
		}
		c["statistics"] = cp
	}
	b, _ := json.Marshal(c)
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// rejectedBefore reports whether sec is the general_configuration whose
// connection failed its trial last: ThingsBoard sends it again on every
// connect, and trying it again would cut the gateway off every time.
func (g *Gateway) rejectedBefore(sec map[string]any) bool {
	b, err := os.ReadFile(g.trialPath())
	if err != nil {
		return false
	}
	var t connTrial
	if json.Unmarshal(b, &t) != nil {
		return false
	}
	return (t.State == "failed" || t.State == "rejected") && t.Sum == sectionSum(sec)
}

// checkNewLink builds (without connecting) the link of a configuration, to
// refuse one whose TLS material cannot even be loaded.
func (g *Gateway) checkNewLink(cfg *config.Config) error {
	l, err := g.opts.NewLink(cfg, LinkHandler{})
	if err != nil {
		return err
	}
	if c, ok := l.(interface{ Close() error }); ok {
		_ = c.Close()
	}
	return nil
}

// connectionTrial runs at start: it commits or rolls back a pending trial
// and reports a failed one once connected.
func (g *Gateway) connectionTrial(ctx context.Context) {
	b, err := os.ReadFile(g.trialPath())
	if errors.Is(err, os.ErrNotExist) {
		return
	}
	var t connTrial
	if err == nil {
		err = json.Unmarshal(b, &t)
	}
	if err != nil {
		g.log.Error("remote configuration: unreadable connection trial file, removed", "err", err)
		os.Remove(g.trialPath())
		return
	}
	bound := g.connectTrial()
	switch t.State {
	case "trying":
		g.log.Info("remote configuration: trying the new ThingsBoard connection", "server", t.Server, "bound", bound)
		timer := time.NewTimer(bound)
		defer timer.Stop()
		select {
		case <-ctx.Done():
			return // the trial continues after the next start
		case <-g.connectedCh():
			os.Remove(g.trialPath())
			g.log.Info("remote configuration: new ThingsBoard connection works, configuration kept", "server", t.Server)
			return
		case <-timer.C:
		}
		t.State = "failed"
		t.Reason = fmt.Sprintf("no connection to %s within %s", t.Server, bound)
		nb, _ := json.Marshal(t)
		if err := atomicfile.Write(g.trialPath(), nb, 0o600); err != nil {
			g.log.Error("remote configuration: recording the failed trial", "err", err)
		}
		if err := writeConfigFile(g.cfg.Path, []byte(t.Previous)); err != nil {
			g.log.Error("remote configuration: restoring the previous configuration", "err", err)
			return
		}
		g.log.Warn("remote configuration: new ThingsBoard connection failed, previous configuration restored, restarting", "reason", t.Reason)
		g.requestRestart()
	case "failed":
		select {
		case <-ctx.Done():
			return
		case <-g.connectedCh():
		}
		g.log.Error("remote configuration: general_configuration rejected, the previous connection was restored", "reason", t.Reason)
		g.publishControl(ctx, TopicOwnAttributes, map[string]any{"generalConfigurationError": map[string]any{
			"reason": t.Reason, "ts": t.TS, "restoredTs": g.now().UnixMilli()}})
		t.State, t.Previous = "rejected", ""
		nb, _ := json.Marshal(t)
		if err := atomicfile.Write(g.trialPath(), nb, 0o600); err != nil {
			g.log.Warn("remote configuration: recording the rejected configuration", "err", err)
		}
	case "rejected":
	default:
		os.Remove(g.trialPath())
	}
}

// statisticsAttr is general_configuration.statistics as upstream reports
// it: the section's keys with their defaults and the commands of the
// statistics file.
func (g *Gateway) statisticsAttr(tbs map[string]any) {
	st, _ := tbs["statistics"].(map[string]any)
	if st == nil {
		st = map[string]any{}
	}
	cur := g.cfg.ThingsBoard.Statistics
	out := map[string]any{
		"enable":                         config.Enabled(cur.Enable, true),
		"enableCustom":                   config.Enabled(cur.EnableCustom, config.Enabled(cur.Enable, true)),
		"statsSendPeriodInSeconds":       cur.StatsSendPeriodInSeconds,
		"customStatsSendPeriodInSeconds": cur.CustomStatsSendPeriodInSeconds,
		"configuration":                  cur.Configuration,
		"commands":                       []any{},
	}
	for k, v := range st {
		if _, ok := out[k]; !ok {
			out[k] = v
		}
	}
	if cur.Configuration != "" {
		path := cur.Configuration
		if !filepath.IsAbs(path) {
			path = filepath.Join(g.cfg.Dir, path)
		}
		if b, err := os.ReadFile(path); err == nil {
			var cmds []any
			if json.Unmarshal(b, &cmds) == nil && cmds != nil {
				out["commands"] = cmds
			}
		}
	}
	tbs["statistics"] = out
}
