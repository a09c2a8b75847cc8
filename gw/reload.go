package gw

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"time"

	"github.com/tbgw/tbgw/gw/config"
)

// sameCore reports whether two configurations have the same ThingsBoard
// connection and storage settings (anything else is applied live).
func sameCore(a, b *config.Config) bool {
	ja, _ := json.Marshal([]any{a.ThingsBoard, a.Storage})
	jb, _ := json.Marshal([]any{b.ThingsBoard, b.Storage})
	return string(ja) == string(jb)
}

// fileStamp identifies a version of a file cheaply.
type fileStamp struct {
	mod  time.Time
	size int64
}

func (g *Gateway) configStamps() map[string]fileStamp {
	paths := []string{g.cfg.Path, filepath.Join(g.cfg.Dir, "logs.json")}
	g.runMu.Lock()
	for _, r := range g.running {
		paths = append(paths, r.cfg.Path)
	}
	g.runMu.Unlock()
	for _, c := range g.cfg.Connectors {
		paths = append(paths, c.Path)
	}
	out := map[string]fileStamp{}
	for _, p := range paths {
		if fi, err := os.Stat(p); err == nil {
			out[p] = fileStamp{fi.ModTime(), fi.Size()}
		} else {
			out[p] = fileStamp{}
		}
	}
	return out
}

// watchConfig reloads on SIGHUP (Options.Reload) and when a configuration
// file changes (checked every checkConnectorsConfigurationInSeconds).
func (g *Gateway) watchConfig(ctx context.Context) {
	period := time.Duration(g.cfg.ThingsBoard.CheckConnectorsConfigurationInSeconds) * time.Second
	if period <= 0 {
		period = time.Minute
	}
	tick := time.NewTicker(period)
	defer tick.Stop()
	last := g.configStamps()
	for {
		select {
		case <-ctx.Done():
			return
		case <-g.opts.Reload:
			g.log.Info("reload requested")
		case <-tick.C:
			now := g.configStamps()
			if equalStamps(now, last) {
				continue
			}
			g.log.Info("configuration files changed, reloading")
		}
		if err := g.Reload(ctx); err != nil {
			g.log.Error("reload failed, keeping the running configuration", "err", err)
		}
		last = g.configStamps()
	}
}

func equalStamps(a, b map[string]fileStamp) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || !w.mod.Equal(v.mod) || w.size != v.size {
			return false
		}
	}
	return true
}
