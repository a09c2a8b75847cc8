package gw

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tbgw/tbgw/drivers/kit/backoff"
	"github.com/tbgw/tbgw/gw/config"
	"github.com/tbgw/tbgw/gw/connector"
	"github.com/tbgw/tbgw/gw/report"
)

// running is one connector instance under supervision.
type running struct {
	cfg    config.Connector
	conn   connector.Connector
	sink   *sink
	log    *slog.Logger
	cs     *connStats
	cancel context.CancelFunc
	done   chan struct{}

	liveMu  sync.Mutex
	liveCtx context.Context // the current Run's context; nil when not running

	restarting atomic.Bool            // failed, waiting for the back-off
	lastErr    atomic.Pointer[string] // why it last stopped
}

// enter returns a context for a downlink call that ends with parent or
// with the connector's current run, and false when the connector is not
// running (stopped, or waiting to restart).
func (r *running) enter(parent context.Context) (context.Context, context.CancelFunc, bool) {
	r.liveMu.Lock()
	live := r.liveCtx
	r.liveMu.Unlock()
	if live == nil || live.Err() != nil {
		return nil, nil, false
	}
	ctx, cancel := context.WithCancel(parent)
	stop := context.AfterFunc(live, cancel)
	return ctx, func() { stop(); cancel() }, true
}

// notRunning is the error a downlink call gets while its connector is down.
func (r *running) notRunning() error {
	return fmt.Errorf("connector %q is not running", r.cfg.Name)
}

// connStats are the counters of one connector.
type connStats struct {
	items     atomic.Uint64 // events (device data items) handed to Send
	received  atomic.Uint64 // datapoints handed to Send
	stored    atomic.Uint64 // events stored
	telemetry atomic.Uint64 // items with telemetry stored
	invalid   atomic.Uint64 // items without device or data
	errors    atomic.Uint64 // failed sends, attribute updates, RPCs
	restarts  atomic.Uint64 // supervisor restarts
	onError   func()        // wakes the error-count publisher (may be nil)
}

// remoteErrors are the errors not also logged at ERROR (a restart is
// counted by its log record).
func (c *connStats) remoteErrors() uint64 {
	e := c.errors.Load() // read first: a restart adds errors before restarts
	return e - min(e, c.restarts.Load())
}

// addError counts one connector error and wakes the error-count publisher.
func (c *connStats) addError() {
	c.errors.Add(1)
	if c.onError != nil {
		c.onError()
	}
}

const (
	backoffMin = time.Second
	backoffMax = time.Minute
	// healthyRun resets the back-off: a connector that ran this long
	// before failing starts again quickly.
	healthyRun = time.Minute
)

// Build constructs a connector from its configuration with the registered
// factory. Used by the supervisor and by Check.
func Build(c config.Connector, env connector.Env) (connector.Connector, error) {
	f, ok := connector.Lookup(c.Type)
	if !ok {
		return nil, fmt.Errorf("connector %q: type %q is not built into this binary (built in: %v)", c.Name, c.Type, connector.Types())
	}
	conn, err := f(c.Raw, env)
	if err != nil {
		return nil, fmt.Errorf("connector %q (%s): %w", c.Name, filepath.Base(c.Path), err)
	}
	return conn, nil
}

func (g *Gateway) connectorEnv(c config.Connector) connector.Env {
	lv := new(slog.LevelVar)
	lv.Set(c.LogLevel)
	if l, ok := g.cfg.LogLevels["connector"]; ok && c.LogLevel == slog.LevelInfo {
		lv.Set(l)
	}
	h := g.opts.Handler
	if h == nil {
		h = g.log.Handler()
	}
	var remote slog.Leveler = levelOff
	if c.Remote {
		remote = lv // enableRemoteLogging: stream at the connector's level
	}
	log := slog.New(g.rlog.handler(LevelHandler(h, lv), c.Name+"_LOGS", c.Name, false, remote)).With("connector", c.Name)
	dataDir := filepath.Join(g.opts.DataDir, "connectors", safeName(c.Name))
	_ = os.MkdirAll(dataDir, 0o700)
	return connector.Env{Name: c.Name, Type: c.Type, ID: c.ID, Log: log, Now: g.now, File: filepath.Base(c.Path), ConfigDir: g.cfg.Dir, DataDir: dataDir, Strict: g.cfg.Strict}
}

func safeName(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			b[i] = '_'
		}
	}
	return string(b)
}

// LevelHandler returns h filtered at level.
func LevelHandler(h slog.Handler, level slog.Leveler) slog.Handler {
	return levelHandler{Handler: h, level: level}
}

// levelHandler filters records below a per-connector level.
type levelHandler struct {
	slog.Handler
	level slog.Leveler
}

func (h levelHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= h.level.Level() }
func (h levelHandler) WithAttrs(a []slog.Attr) slog.Handler {
	return levelHandler{Handler: h.Handler.WithAttrs(a), level: h.level}
}
func (h levelHandler) WithGroup(n string) slog.Handler {
	return levelHandler{Handler: h.Handler.WithGroup(n), level: h.level}
}

// applyConnectors makes the running set match cfg: connectors whose
// configuration is unchanged keep running, changed ones are restarted,
// removed ones stopped and their devices disconnected, new ones started.
func (g *Gateway) applyConnectors(ctx context.Context, cfg *config.Config) {
	want := map[string]config.Connector{}
	for _, c := range cfg.Connectors {
		want[c.Name] = c
	}
	g.runMu.Lock()
	for name := range g.failed {
		if _, ok := want[name]; !ok {
			delete(g.failed, name)
		}
	}
	var stop []*running
	for name, r := range g.running {
		c, ok := want[name]
		if ok && c.Sum == r.cfg.Sum {
			delete(want, name)
			continue
		}
		stop = append(stop, r)
		delete(g.running, name)
	}
	g.runMu.Unlock()
	for _, r := range stop {
		r.log.Info("stopping connector")
		r.cancel()
		<-r.done
		if _, still := want[r.cfg.Name]; !still {
			for _, d := range g.reg.ofConnector(r.cfg.Name) {
				if dev, ok := g.reg.markGone(d.Name); ok {
					g.sendControl(controlMsg{kind: ctlDisconnect, dev: dev})
				}
			}
		}
	}
	for _, c := range cfg.Connectors {
		if _, ok := want[c.Name]; !ok {
			continue
		}
		env := g.connectorEnv(c)
		conn, err := Build(c, env)
		g.runMu.Lock()
		if err != nil {
			g.failed[c.Name] = failedConnector{typ: c.Type, err: err.Error()}
		} else {
			delete(g.failed, c.Name)
		}
		g.runMu.Unlock()
		if err != nil {
			g.log.Error("connector not started", "connector", c.Name, "err", err)
			continue
		}
		cctx, cancel := context.WithCancel(ctx)
		cs := &connStats{onError: g.rlog.kickErrors}
		r := &running{cfg: c, conn: conn, log: env.Log, cs: cs, cancel: cancel, done: make(chan struct{})}
		r.sink = &sink{g: g, name: c.Name, id: c.ID, typ: c.Type, report: toStrategy(c.Report), log: env.Log, cs: cs}
		if r.sink.report != nil {
			r.sink.report = report.Normalize(r.sink.report)
		}
		g.runMu.Lock()
		g.running[c.Name] = r
		g.runMu.Unlock()
		go g.supervise(cctx, r)
		env.Log.Info("connector started", "type", c.Type)
	}
	g.rlog.kickErrors()
	g.sendControl(controlMsg{kind: ctlConnectors})
}

// supervise runs a connector until ctx ends, restarting it with capped
// exponential back-off when it fails or panics.
func (g *Gateway) supervise(ctx context.Context, r *running) {
	defer close(r.done)
	b := backoff.Policy{Min: backoffMin, Max: backoffMax, Jitter: 0.2}.New()
	for {
		start := time.Now()
		err := g.runOnce(ctx, r)
		if ctx.Err() != nil {
			return
		}
		r.cs.errors.Add(1) // the ERROR record below counts it remotely
		r.cs.restarts.Add(1)
		msg := fmt.Sprint(err)
		r.lastErr.Store(&msg)
		r.restarting.Store(true)
		if time.Since(start) >= healthyRun {
			b.Reset()
		}
		d := b.Next()
		r.log.Error("connector stopped, restarting", "err", err, "in", d.Round(time.Millisecond))
		if backoff.Sleep(ctx, d) != nil {
			return
		}
	}
}

func (g *Gateway) runOnce(ctx context.Context, r *running) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic: %v\n%s", p, debug.Stack())
		}
	}()
	rctx, cancel := context.WithCancel(ctx)
	r.liveMu.Lock()
	r.liveCtx = rctx
	r.liveMu.Unlock()
	r.restarting.Store(false)
	defer func() {
		r.liveMu.Lock()
		r.liveCtx = nil
		r.liveMu.Unlock()
		cancel()
	}()
	err = r.conn.Run(rctx, r.sink)
	if err == nil && ctx.Err() == nil {
		err = fmt.Errorf("Run returned before it was stopped")
	}
	return err
}

func (g *Gateway) stopConnectors() {
	g.runMu.Lock()
	all := make([]*running, 0, len(g.running))
	for _, r := range g.running {
		all = append(all, r)
	}
	g.runMu.Unlock()
	for _, r := range all {
		r.cancel()
	}
	for _, r := range all {
		<-r.done
	}
}

func (g *Gateway) runningByName(name string) *running {
	g.runMu.Lock()
	defer g.runMu.Unlock()
	return g.running[name]
}

func (g *Gateway) sinkByID(id string) *sink {
	g.runMu.Lock()
	defer g.runMu.Unlock()
	for _, r := range g.running {
		if r.cfg.ID == id {
			return r.sink
		}
	}
	return nil
}

// Reload re-reads the configuration directory and applies connector
// changes. A change of the ThingsBoard connection or storage settings
// requests a restart.
func (g *Gateway) Reload(ctx context.Context) error {
	cfg, err := config.Load(g.cfg.Dir, os.Getenv)
	if err != nil {
		return err
	}
	if !sameCore(g.cfg, cfg) {
		g.log.Info("connection or storage settings changed, restarting")
		g.requestRestart()
		return nil
	}
	g.filter.Store(cfg.Filter)
	g.applyLogsFile()
	g.applyConnectors(ctx, cfg)
	return nil
}
