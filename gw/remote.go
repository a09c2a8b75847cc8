package gw

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/tbgw/tbgw/gw/config"
	"github.com/tbgw/tbgw/gw/connector"
)

// Remote configuration (thingsboard.remoteConfiguration, tb-gateway 8.1):
// on every connect the gateway reports its configuration as client
// attributes of the gateway device and asks for the shared attributes
// ThingsBoard's gateway UI writes; connector configurations pushed that way
// are validated by their connector, written (the previous file kept in
// backup/), and applied by a reload that restarts only that connector.
// active_connectors removes the connectors it does not list. Changes of
// general_configuration or storage_configuration are validated, written to
// tb_gateway.json and applied by a restart.

const maxBackups = 10

func (g *Gateway) remoteEnabled() bool { return g.cfg.ThingsBoard.RemoteConfiguration }

// ownRequester is the optional capability of a Link to request the gateway
// device's own attributes.
type ownRequester interface {
	RequestOwnAttributes(ctx context.Context, client, shared []string) (map[string]any, map[string]any, error)
}

// readMain returns tb_gateway.json as a generic object.
func (g *Gateway) readMain() (map[string]any, error) {
	raw, err := os.ReadFile(g.cfg.Path)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("%s: %w", g.cfg.Path, err)
	}
	return m, nil
}

// publishRemoteConfig reports the current configuration as client
// attributes, then (with request) fetches the shared ones.
func (g *Gateway) publishRemoteConfig(ctx context.Context, request bool) {
	m, err := g.readMain()
	if err != nil {
		g.log.Warn("remote configuration: reading the main file", "err", err)
		return
	}
	ts := g.now().UnixMilli()
	attrs := map[string]any{}
	if tbs, ok := m["thingsboard"].(map[string]any); ok {
		g.statisticsAttr(tbs)
		tbs["ts"] = ts
		attrs["general_configuration"] = tbs
	}
	if st, ok := m["storage"].(map[string]any); ok {
		st["ts"] = ts
		attrs["storage_configuration"] = st
	}
	attrs["logs_configuration"] = g.logsAttr(ts)
	if gr, ok := m["grpc"].(map[string]any); ok {
		gr["ts"] = ts
		attrs["grpc_configuration"] = gr
	}
	names := []string{}
	g.runMu.Lock()
	conns := make([]config.Connector, 0, len(g.running))
	for _, r := range g.running {
		conns = append(conns, r.cfg)
	}
	g.runMu.Unlock()
	sort.Slice(conns, func(i, j int) bool { return conns[i].Name < conns[j].Name })
	for _, c := range conns {
		names = append(names, c.Name)
		if a := connectorAttr(c, ts); a != nil {
			attrs[c.Name] = a
		}
	}
	attrs["active_connectors"] = names
	b, err := json.Marshal(attrs)
	if err != nil {
		return
	}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := g.link.Publish(pctx, TopicOwnAttributes, b, g.qos, len(attrs)); err != nil {
		g.log.Debug("remote configuration: publishing", "err", err)
	}
	req, ok := g.link.(ownRequester)
	if !ok || !request {
		return
	}
	g.spawn(func() {
		rctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		_, shared, err := req.RequestOwnAttributes(rctx, nil, []string{"RemoteLoggingLevel", "general_configuration", "storage_configuration", "logs_configuration", "active_connectors"})
		if err != nil {
			g.log.Debug("remote configuration: requesting shared attributes", "err", err)
			return
		}
		if len(shared) > 0 {
			b, _ := json.Marshal(shared)
			g.serveOwnAttributes(b)
		}
	})
}

// connectorAttr is a connector's client attribute as ThingsBoard's gateway
// UI reads it: the file without the keys it shows separately, which sit
// beside it.
func connectorAttr(c config.Connector, ts int64) map[string]any {
	var js map[string]any
	if json.Unmarshal(c.Raw, &js) != nil {
		return nil
	}
	a := map[string]any{
		"name": c.Name, "type": c.Type, "configuration": c.File, "id": c.ID,
		"logLevel": levelName(c.LogLevel), "enableRemoteLogging": c.Remote,
		"configurationJson": js, "ts": ts,
	}
	for _, k := range []string{"reportStrategy", "configVersion"} {
		if v, ok := js[k]; ok && v != nil {
			a[k] = v
		}
	}
	for _, k := range []string{"logLevel", "enableRemoteLogging", "reportStrategy", "configVersion"} {
		delete(js, k)
	}
	js["id"] = c.ID
	js["name"] = c.Name
	return a
}

func levelName(l interface{ String() string }) string {
	s := l.String()
	if s == "WARN" {
		return "WARNING"
	}
	return s
}

// applyRemote handles the shared attributes of the gateway device that
// carry configuration. It runs on a downlink worker.
func (g *Gateway) applyRemote(m map[string]json.RawMessage) {
	if !g.remoteEnabled() {
		return
	}
	ctx := context.Background()
	changed := false
	echo := map[string]int64{} // connector name -> ts of the pushed configuration
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		raw := m[k]
		var err error
		switch k {
		case "RemoteLoggingLevel":
			continue
		case "active_connectors":
			var names []string
			if err = json.Unmarshal(raw, &names); err == nil {
				var c bool
				c, err = g.remoteActive(ctx, names)
				changed = changed || c
			}
		case "general_configuration", "storage_configuration":
			err = g.remoteMain(k, raw)
		case "logs_configuration":
			err = g.remoteLogs(raw)
		case "grpc_configuration":
			g.log.Info("remote configuration: section not supported, ignored", "key", k)
			continue
		default:
			if strings.Contains(k, "deleted") {
				continue
			}
			var c bool
			var name string
			var ts int64
			name, ts, c, err = g.remoteConnector(k, raw)
			changed = changed || c
			if err == nil && name != "" {
				echo[name] = ts
			}
		}
		if err != nil {
			g.log.Error("remote configuration rejected", "key", k, "err", err)
		}
	}
	if changed {
		if err := g.Reload(ctx); err != nil {
			g.log.Error("remote configuration: reload", "err", err)
		}
	}
	g.echoConnectors(ctx, echo)
}

// echoConnectors reports the applied configuration of the named connectors
// back, so ThingsBoard's UI sees them in sync.
func (g *Gateway) echoConnectors(ctx context.Context, echo map[string]int64) {
	if len(echo) == 0 {
		return
	}
	attrs := map[string]any{}
	g.runMu.Lock()
	for name, ts := range echo {
		if r, ok := g.running[name]; ok {
			if ts == 0 {
				ts = g.now().UnixMilli()
			}
			if a := connectorAttr(r.cfg, ts); a != nil {
				attrs[name] = a
			}
		}
	}
	g.runMu.Unlock()
	if len(attrs) > 0 {
		g.publishControl(ctx, TopicOwnAttributes, attrs)
	}
}

// remoteConnector writes a connector configuration pushed by ThingsBoard.
// It returns the connector's name and the pushed ts (for the echo), and
// whether anything changed.
func (g *Gateway) remoteConnector(key string, raw json.RawMessage) (string, int64, bool, error) {
	var rc struct {
		Name                string          `json:"name"`
		ID                  string          `json:"id"`
		Type                string          `json:"type"`
		Configuration       string          `json:"configuration"`
		ConfigurationJSON   json.RawMessage `json:"configurationJson"`
		LogLevel            string          `json:"logLevel"`
		EnableRemoteLogging *bool           `json:"enableRemoteLogging"`
		ReportStrategy      json.RawMessage `json:"reportStrategy"`
		ConfigVersion       json.RawMessage `json:"configVersion"`
		Class               string          `json:"class"`
		TS                  int64           `json:"ts"`
	}
	if err := json.Unmarshal(raw, &rc); err != nil || len(rc.ConfigurationJSON) == 0 {
		return "", 0, false, nil // not a connector configuration
	}
	name, changed, err := g.writeRemoteConnector(key, rc.Name, rc.ID, rc.Type, rc.Configuration, rc.Class, rc.LogLevel,
		rc.ConfigurationJSON, rc.EnableRemoteLogging, rc.ReportStrategy, rc.ConfigVersion)
	return name, rc.TS, changed, err
}

func (g *Gateway) writeRemoteConnector(key, name, id, typ, file, class, logLevel string, cj json.RawMessage,
	remoteLog *bool, strategy, version json.RawMessage) (string, bool, error) {
	if name == "" {
		name = key
	}
	var body map[string]any
	if err := json.Unmarshal(cj, &body); err != nil {
		return name, false, fmt.Errorf("connector %q: configurationJson: %w", name, err)
	}
	if s, ok := body["id"].(string); ok && s != "" {
		id = s // ThingsBoard's UI identifies connectors by configurationJson.id
	}
	if typ == "" {
		return name, false, fmt.Errorf("connector %q: no type", name)
	}
	rc := struct{ Name, Type, Configuration, LogLevel, Class string }{name, typ, file, logLevel, class}
	main, err := g.readMain()
	if err != nil {
		return name, false, err
	}
	list, _ := main["connectors"].([]any)
	// Match by id first (a connector renamed in the UI keeps its id),
	// then by name.
	byID := ""
	if id != "" {
		g.runMu.Lock()
		for n, r := range g.running {
			if r.cfg.ID == id {
				byID = n
			}
		}
		g.runMu.Unlock()
	}
	var entry map[string]any
	for _, e := range list {
		em, ok := e.(map[string]any)
		if !ok {
			continue
		}
		if eid, _ := em["id"].(string); id != "" && eid == id || byID != "" && em["name"] == byID {
			entry = em
			break
		}
	}
	if entry == nil {
		for _, e := range list {
			if em, ok := e.(map[string]any); ok && em["name"] == rc.Name {
				entry = em
			}
		}
	}
	renamed := entry != nil && entry["name"] != rc.Name
	file = rc.Configuration
	if entry != nil {
		if f, ok := entry["configuration"].(string); ok && f != "" {
			file = f
		}
	}
	if file == "" {
		file = strings.ReplaceAll(strings.ToLower(rc.Name), " ", "_") + ".json"
	}
	if strings.Contains(file, "..") || filepath.IsAbs(file) {
		return name, false, fmt.Errorf("connector %q: configuration file %q outside the configuration directory", rc.Name, file)
	}
	body["name"] = rc.Name
	if id != "" {
		body["id"] = id
	}
	if rc.LogLevel != "" {
		body["logLevel"] = rc.LogLevel
	}
	if remoteLog != nil {
		body["enableRemoteLogging"] = *remoteLog
	}
	for k, v := range map[string]json.RawMessage{"reportStrategy": strategy, "configVersion": version} {
		if len(v) > 0 && string(v) != "null" {
			body[k] = v
		}
	}
	out, err := json.MarshalIndent(body, "", "  ")
	if err != nil {
		return name, false, err
	}
	path := filepath.Join(g.cfg.Dir, file)
	if old, err := os.ReadFile(path); err == nil && jsonEqual(old, out) && !renamed {
		return name, false, nil
	}
	// Validate with the connector's own factory before touching anything.
	cn := config.Connector{Type: rc.Type, Name: rc.Name, Path: path, File: file, Raw: out}
	if _, err := Build(cn, connector.Env{Name: rc.Name, Type: rc.Type, Log: g.log, Now: g.now, File: file, ConfigDir: g.cfg.Dir, DataDir: os.TempDir()}); err != nil {
		return name, false, err
	}
	if err := g.backup(path); err != nil {
		return name, false, err
	}
	if err := writeConfigFile(path, out); err != nil {
		return name, false, err
	}
	if renamed {
		g.log.Info("remote configuration: connector renamed", "from", entry["name"], "to", rc.Name)
		entry["name"] = rc.Name
		if err := g.writeMain(main); err != nil {
			return name, false, err
		}
	}
	if entry == nil {
		e := map[string]any{"type": rc.Type, "name": rc.Name, "configuration": file}
		if rc.Class != "" {
			e["class"] = rc.Class
		}
		main["connectors"] = append(list, e)
		if err := g.writeMain(main); err != nil {
			return name, false, err
		}
	}
	g.log.Info("remote configuration: connector written", "connector", rc.Name, "file", file)
	return name, true, nil
}

// remoteActive removes the connectors not in names; for listed names the
// gateway does not have, it asks ThingsBoard for their configuration.
func (g *Gateway) remoteActive(ctx context.Context, names []string) (bool, error) {
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	main, err := g.readMain()
	if err != nil {
		return false, err
	}
	list, _ := main["connectors"].([]any)
	kept := []any{}
	have := map[string]bool{}
	for _, e := range list {
		em, ok := e.(map[string]any)
		name, _ := em["name"].(string)
		if ok && !want[name] {
			g.log.Info("remote configuration: connector removed", "connector", name)
			continue
		}
		have[name] = true
		kept = append(kept, e)
	}
	changed := len(kept) != len(list)
	if changed {
		main["connectors"] = kept
		if err := g.writeMain(main); err != nil {
			return false, err
		}
	}
	var missing []string
	for _, n := range names {
		if !have[n] {
			missing = append(missing, n)
		}
	}
	if req, ok := g.link.(ownRequester); ok && len(missing) > 0 {
		g.spawn(func() {
			rctx, cancel := context.WithTimeout(ctx, 20*time.Second)
			defer cancel()
			_, shared, err := req.RequestOwnAttributes(rctx, nil, missing)
			if err == nil && len(shared) > 0 {
				b, _ := json.Marshal(shared)
				g.serveOwnAttributes(b)
			}
		})
	}
	return changed, nil
}

// remoteMain replaces the thingsboard or storage section after checking
// that the resulting configuration loads, then restarts. A changed
// ThingsBoard connection is tried first (generalcfg.go).
func (g *Gateway) remoteMain(key string, raw json.RawMessage) error {
	var sec map[string]any
	if err := json.Unmarshal(raw, &sec); err != nil {
		return err
	}
	delete(sec, "ts")
	main, err := g.readMain()
	if err != nil {
		return err
	}
	section := "thingsboard"
	if key == "storage_configuration" {
		section = "storage"
	}
	statsChanged := false
	if section == "thingsboard" {
		if g.rejectedBefore(sec) {
			g.log.Warn("remote configuration: this general_configuration failed to connect before; ignored (change it to try again)")
			return nil
		}
		if statsChanged, err = g.writeStatisticsCommands(sec); err != nil {
			return err
		}
	}
	cur, _ := json.Marshal(main[section])
	next, _ := json.Marshal(sec)
	if jsonEqual(cur, next) {
		if statsChanged {
			g.log.Info("remote configuration: statistics commands changed, restarting")
			g.requestRestart()
		}
		return nil
	}
	curSec, _ := main[section].(map[string]any)
	main[section] = sec
	// Validate in a scratch directory holding the new main file and the
	// current connector files.
	tmp, err := os.MkdirTemp("", "tbgw-remote-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	b, _ := json.MarshalIndent(main, "", "  ")
	if err := os.WriteFile(filepath.Join(tmp, config.MainFile), b, 0o600); err != nil {
		return err
	}
	entries, _ := os.ReadDir(g.cfg.Dir)
	for _, e := range entries {
		if !e.IsDir() && e.Name() != config.MainFile && strings.HasSuffix(e.Name(), ".json") {
			if src, err := os.ReadFile(filepath.Join(g.cfg.Dir, e.Name())); err == nil {
				os.WriteFile(filepath.Join(tmp, e.Name()), src, 0o600)
			}
		}
	}
	ncfg, err := config.Load(tmp, func(string) string { return "" })
	if err != nil {
		return err
	}
	if section == "thingsboard" && connectionChanged(curSec, sec) {
		ncfg.Dir = g.cfg.Dir // certificate files are where the gateway runs
		if err := g.checkNewLink(ncfg); err != nil {
			return fmt.Errorf("new ThingsBoard connection: %w", err)
		}
		prev, err := os.ReadFile(g.cfg.Path)
		if err != nil {
			return err
		}
		if err := g.startConnectionTrial(prev, sec); err != nil {
			return err
		}
	}
	if err := g.writeMain(main); err != nil {
		return err
	}
	g.log.Info("remote configuration: main file changed, restarting", "section", section)
	g.requestRestart()
	return nil
}

func (g *Gateway) writeMain(main map[string]any) error {
	b, err := json.MarshalIndent(main, "", "  ")
	if err != nil {
		return err
	}
	if err := g.backup(g.cfg.Path); err != nil {
		return err
	}
	return writeConfigFile(g.cfg.Path, b)
}

func jsonEqual(a, b []byte) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	xa, _ := json.Marshal(x)
	ya, _ := json.Marshal(y)
	return string(xa) == string(ya)
}
