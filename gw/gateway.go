// Package gw is the gateway core: it runs the configured connectors under a
// supervisor, takes their converted data through the device filter, the
// report strategies and timestamping into the event storage, replays the
// storage to ThingsBoard in one uplink loop, and routes attribute updates
// and RPCs from ThingsBoard back to the connector that owns the device.
//
// Package gw never imports a connector: connectors register themselves with
// gw/connector and main.go links them in.
package gw

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tbgw/tbgw/gw/config"
	"github.com/tbgw/tbgw/gw/connector"
	"github.com/tbgw/tbgw/gw/logging"
	"github.com/tbgw/tbgw/gw/report"
	"github.com/tbgw/tbgw/gw/storage"
)

// ErrRestart is returned by Run when ThingsBoard asked for a restart
// (gateway_restart) or the connection or storage settings changed on a
// reload; main re-executes the binary.
var ErrRestart = errors.New("gateway restart requested")

// Options are the parts of a gateway that are not in its configuration.
type Options struct {
	Version string
	Log     *slog.Logger
	Level   *slog.LevelVar // the local service log level (RemoteLoggingLevel sets the remote one)
	// Handler is the unfiltered log handler connector loggers are built
	// on, each with its own level (default: Log's handler).
	Handler slog.Handler
	Now     func() time.Time
	// NewLink builds the ThingsBoard connection. The handler receives
	// connect, disconnect and inbound message events.
	NewLink func(cfg *config.Config, h LinkHandler) (LinkRunner, error)
	// DataDir is where the storage's relative paths, connected_devices.json
	// and connector state live (default: the config directory; the tbgw
	// command defaults to /var/lib/tbgw). It is created 0700 if missing.
	DataDir string
	// Reload delivers reload requests (SIGHUP).
	Reload <-chan struct{}
	// ShutdownTimeout bounds the clean stop (default 10 s).
	ShutdownTimeout time.Duration
	// Logs is the log output that logs.json and the remote
	// logs_configuration configure (nil: they are written but not applied).
	Logs *logging.Router
	// ConnectTrial bounds how long a remotely pushed ThingsBoard connection
	// may take to connect before the previous configuration is restored
	// (default DefaultConnectTrial).
	ConnectTrial time.Duration
	// Executable is the binary that over-the-air updates replace; empty
	// disables them.
	Executable string
	// Trial, when set, makes this gateway a new binary on trial: it
	// writes progress lines and "ok" once healthy (RunTrial reads them).
	Trial io.WriteCloser
}

// LinkRunner is a Link that runs until its context ends.
type LinkRunner interface {
	Link
	Run(ctx context.Context) error
}

// LinkHandler receives events of the ThingsBoard connection.
type LinkHandler struct {
	OnConnect    func()
	OnDisconnect func(err error)
	OnMessage    func(topic string, payload []byte)
}

// Gateway is a running gateway.
type Gateway struct {
	cfg    *config.Config
	opts   Options
	log    *slog.Logger
	rawLog *slog.Logger // the service logger without remote logging
	rlog   *remoteLog
	now    func() time.Time
	store  storage.Store
	link   LinkRunner
	report *report.Filter
	reg    *registry
	stats  stats

	readBatch int
	packDelay time.Duration // minPackSendDelayMS: the uplink's coalescing window
	gatherFor time.Duration // the share of minPackSendDelayMS a connector may spend gathering (sink.Window)
	qos       byte

	connected chan struct{} // closed while connected; replaced on disconnect
	connMu    sync.Mutex

	tsMu     sync.Mutex
	lastTS   map[string]int64 // device -> last stamped ms
	tsPruned int64            // when lastTS was last pruned (ms)
	hkKick   chan struct{}    // wakes housekeeping (capacity 1)

	runMu       sync.Mutex
	running     map[string]*running        // connector name -> instance
	failed      map[string]failedConnector // connectors that could not be built
	restartReq  atomic.Bool
	restart     chan struct{}
	restartOnce sync.Once
	wg          sync.WaitGroup // background goroutines of Run

	downlink chan inbound
	control  chan controlMsg

	maxPayload atomic.Int64
	filter     atomic.Pointer[config.Filter]
	ota        otaState
	shell      *shell // remote shell, nil unless thingsboard.remoteShell (set once by shellOnce)
	shellOnce  sync.Once
	details    map[string]string // device -> connector type and name last sent (control loop only)
	started    time.Time
	firstData  chan struct{} // kicked when a connector stores its first events (capacity 1)
	applied    chan struct{} // closed once Run started the configured connectors
	logsSum    atomic.Value  // string: sum of the logs.json content applied
}

// windowShares splits minPackSendDelayMS, the whole coalescing window,
// given the storage's fsync gap (appends waiting to share an fsync):
// pack is the uplink's wait for more records, the window less the gap; a
// connector that gathers device data itself may spend gather, the window
// less a tenth of it (at most the gap): it commits once per share, so its
// commit finds the gap long passed and waits only for its own fsync. A
// window below 0 turns both off.
func windowShares(window, gap time.Duration) (pack, gather time.Duration) {
	window = max(window, 0)
	return max(window-gap, 0), window - min(window/10, gap)
}

// New builds a gateway from a loaded configuration: it opens the storage
// and loads the device registry, and builds (but does not start) the
// ThingsBoard link. Connectors are built and started by Run.
func New(cfg *config.Config, opts Options) (*Gateway, error) {
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.ShutdownTimeout == 0 {
		opts.ShutdownTimeout = 10 * time.Second
	}
	if opts.DataDir == "" {
		opts.DataDir = cfg.Dir
	}
	g := &Gateway{
		cfg:       cfg,
		opts:      opts,
		rawLog:    opts.Log,
		now:       opts.Now,
		rlog:      newRemoteLog(opts.Now),
		lastTS:    map[string]int64{},
		hkKick:    make(chan struct{}, 1),
		running:   map[string]*running{},
		failed:    map[string]failedConnector{},
		firstData: make(chan struct{}, 1),
		applied:   make(chan struct{}),
		started:   opts.Now(),
		connected: make(chan struct{}),
		restart:   make(chan struct{}),
		downlink:  make(chan inbound, 256),
		control:   make(chan controlMsg, 1024),
		details:   map[string]string{},
	}
	g.ota.chunks = make(chan otaChunk, 4)
	if b, err := os.ReadFile(g.logsPath()); err == nil {
		g.logsSum.Store(fileSum(b)) // applied by main before New
	}
	g.ota.instance = newInstanceID()
	g.log = slog.New(g.rlog.handler(opts.Log.Handler(), "SERVICE_LOGS", "service", true, &g.rlog.svc))
	g.qos = byte(*cfg.ThingsBoard.QoS)
	g.filter.Store(cfg.Filter)
	if err := os.MkdirAll(opts.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	sc, notes := StorageConfig(cfg, opts.DataDir)
	for _, n := range notes {
		g.log.Warn(n)
	}
	g.readBatch = sc.ReadBatch()
	g.packDelay, g.gatherFor = windowShares(time.Duration(cfg.ThingsBoard.MinPackSendDelayMS)*time.Millisecond, sc.SyncGap())
	st, err := storage.Open(sc, g.log.With("component", "storage"))
	if err != nil {
		return nil, fmt.Errorf("storage: %w", err)
	}
	g.store = st
	g.report = report.New(toStrategy(cfg.ThingsBoard.ReportStrategy), opts.Now)
	g.reg = newRegistry(filepath.Join(opts.DataDir, DevicesFile))
	g.reg.kick = g.kickHousekeeping
	ids := map[string]string{}
	for _, c := range cfg.Connectors {
		ids[c.Name] = c.ID
	}
	if err := g.reg.load(ids); err != nil {
		g.log.Warn("device registry", "err", err)
	}
	g.maxPayload.Store(int64(cfg.ThingsBoard.MaxPayloadSizeBytes))
	if opts.NewLink == nil {
		st.Close()
		return nil, errors.New("gw: Options.NewLink is required")
	}
	if err := g.provisionCredentials(cfg, os.Getenv); err != nil {
		st.Close()
		return nil, err
	}
	link, err := opts.NewLink(cfg, LinkHandler{
		OnConnect:    g.onConnect,
		OnDisconnect: g.onDisconnect,
		OnMessage:    g.onMessage,
	})
	if err != nil {
		st.Close()
		return nil, err
	}
	g.link = link
	return g, nil
}

func toStrategy(rs *config.ReportStrategy) *connector.Strategy {
	if rs == nil || (rs.Type == "" && rs.ReportPeriod == nil) {
		return nil
	}
	s := &connector.Strategy{Type: strings.ToUpper(rs.Type)}
	if rs.ReportPeriod != nil {
		s.PeriodMs = *rs.ReportPeriod
	}
	if rs.TTL != nil {
		s.TTLSec = *rs.TTL
	}
	return report.Normalize(s)
}

// Store exposes the event storage (for statistics and tests).
func (g *Gateway) Store() storage.Store { return g.store }

// Run runs the gateway until ctx is cancelled, then stops the connectors,
// flushes the storage and disconnects, within the shutdown timeout.
func (g *Gateway) Run(ctx context.Context) error {
	// The loops run on their own context, ended only after the connectors
	// stopped and the uplink drained: ending with ctx would stop the
	// uplink before the drain.
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()

	linkDone := make(chan error, 1)
	go func() { linkDone <- g.link.Run(runCtx) }()

	g.spawn(func() { g.uplink(runCtx) })
	for i := 0; i < 4; i++ {
		g.spawn(func() { g.downlinkWorker(runCtx) })
	}
	g.spawn(func() { g.controlLoop(runCtx) })
	g.spawn(func() { g.report.Run(runCtx, g.resend) })
	g.spawn(func() { g.housekeeping(runCtx) })
	g.spawn(func() { g.watchConfig(runCtx) })
	g.spawn(func() { g.remoteLogLoop(runCtx) })
	g.spawn(func() { g.errorsLoop(runCtx) })
	g.spawn(func() { g.connectionTrial(runCtx) })
	g.startRemoteOps(runCtx)
	if g.statsEnabled() {
		g.spawn(func() { g.statsLoop(runCtx) })
	}
	if g.customStatsEnabled() {
		cmds, err := loadCustomStats(g.cfg.Dir, g.cfg.ThingsBoard.Statistics.Configuration)
		if err != nil {
			g.log.Error("custom statistics", "err", err)
		} else if len(cmds) > 0 {
			g.spawn(func() { g.customStatsLoop(runCtx, cmds) })
		}
	}

	g.applyConnectors(runCtx, g.cfg)
	close(g.applied)

	var err error
	select {
	case <-ctx.Done():
	case <-g.restartCh():
		err = ErrRestart
	case lerr := <-linkDone:
		linkDone <- lerr
		if lerr != nil {
			err = fmt.Errorf("thingsboard link: %w", lerr)
		}
	}
	g.log.Info("stopping")
	stopped := make(chan struct{})
	go func() {
		g.stopConnectors()
		g.drain(g.opts.ShutdownTimeout / 2)
		cancel()
		g.wg.Wait()
		<-linkDone
		close(stopped)
	}()
	select {
	case <-stopped:
	case <-time.After(g.opts.ShutdownTimeout):
		g.log.Warn("shutdown timeout reached, exiting with work in flight", "timeout", g.opts.ShutdownTimeout)
	}
	if serr := g.reg.save(); serr != nil {
		g.log.Warn("saving device registry", "err", serr)
	}
	if cerr := g.store.Close(); cerr != nil {
		g.log.Warn("closing storage", "err", cerr)
	}
	if err == nil && g.restartReq.Load() {
		err = ErrRestart
	}
	if errors.Is(err, ErrRestart) && g.ota.update.Load() {
		err = ErrUpdate
	}
	return err
}

func (g *Gateway) spawn(f func()) {
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		f()
	}()
}

func (g *Gateway) restartCh() <-chan struct{} { return g.restart }

// requestRestart makes Run return ErrRestart.
func (g *Gateway) requestRestart() {
	g.restartReq.Store(true)
	g.restartOnce.Do(func() { close(g.restart) })
}

// isConnected returns the channel that is closed while connected.
func (g *Gateway) connectedCh() <-chan struct{} {
	g.connMu.Lock()
	defer g.connMu.Unlock()
	return g.connected
}

func (g *Gateway) onConnect() {
	g.connMu.Lock()
	select {
	case <-g.connected:
	default:
		close(g.connected)
	}
	g.connMu.Unlock()
	g.log.Info("connected to ThingsBoard")
	g.stats.reconnects.Add(1)
	if lp, ok := g.link.(interface{ MaxPayload() int }); ok {
		if n := lp.MaxPayload(); n > 0 {
			g.maxPayload.Store(int64(n))
		}
	}
	g.sendControl(controlMsg{kind: ctlReannounce})
	g.rlog.kickErrors()
}

func (g *Gateway) onDisconnect(err error) {
	g.connMu.Lock()
	select {
	case <-g.connected:
		g.connected = make(chan struct{})
	default:
	}
	g.connMu.Unlock()
	g.log.Warn("disconnected from ThingsBoard", "err", err)
}

// drain gives the uplink loop up to max to deliver what is stored, while
// connected: memory storage loses whatever is left at exit.
func (g *Gateway) drain(max time.Duration) {
	deadline := time.Now().Add(max)
	for g.link.Connected() && g.store.Stats().Pending > 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond) // polling a counter; no event to wait on
	}
}
