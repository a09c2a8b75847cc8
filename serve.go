package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"sync"
	"syscall"
	"time"

	"github.com/tbgw/tbgw/gw"
	"github.com/tbgw/tbgw/gw/config"
	"github.com/tbgw/tbgw/gw/health"
	"github.com/tbgw/tbgw/gw/logging"
	"github.com/tbgw/tbgw/gw/sdnotify"
	"github.com/tbgw/tbgw/gw/storage"
	"github.com/tbgw/tbgw/gw/textpages"
)

// journalPrefixes decides the sd-daemon priority prefixes on standard
// error: TB_GW_LOG_PRIORITY_PREFIX=1 or 0 forces them, otherwise they are
// on when standard error is the systemd journal (JOURNAL_STREAM).
func journalPrefixes(stderr io.Writer) bool {
	switch os.Getenv("TB_GW_LOG_PRIORITY_PREFIX") {
	case "1", "true", "yes", "on":
		return true
	case "0", "false", "no", "off":
		return false
	}
	f, ok := stderr.(*os.File)
	return ok && logging.UnderJournal(f)
}

// newLogOutput builds the log output of a run: console on stderr (text or
// JSON, priority prefixes under the journal), files relative to the data
// directory (else the configuration directory) or in $TB_GW_LOGS_PATH.
func newLogOutput(o *options, stderr io.Writer) *logging.Router {
	logDir := o.dataDir
	if logDir == "" {
		logDir = o.dir
	}
	return logging.New(logging.Options{
		Console:  stderr,
		JSON:     o.logFormat == "json",
		Journal:  journalPrefixes(stderr),
		Dir:      logDir,
		LogsPath: os.Getenv("TB_GW_LOGS_PATH"),
	})
}

// defaultMemoryLimit is the Go soft memory limit unless $GOMEMLIMIT says
// otherwise.
const defaultMemoryLimit = 20 << 20

// serve runs the gateway: as a service, or in commissioning mode
// (-dry-run, -once) with the ThingsBoard link replaced by printing.
func serve(o *options, stdout, stderr io.Writer) int {
	// The package initialisers are done: their pages go back (see
	// releaseStartupPages).
	_, _ = textpages.Release() // a failure shows when tried again once started

	// The log output (gw/logging): the console, and the files, syslog and
	// levels per logger of logs.json; connector loggers filter at their
	// own level.
	router := newLogOutput(o, stderr)
	defer router.Close()
	h := router.Handler()
	log := slog.New(h)
	slog.SetDefault(log)

	if os.Getenv("GOMEMLIMIT") == "" {
		// A soft limit keeps the resident set small on 64 MB boards: the
		// collector works harder near it instead of doubling the heap.
		debug.SetMemoryLimit(defaultMemoryLimit)
	}
	if o.strict {
		os.Setenv("TB_GW_STRICT_CONFIG", "1")
	}
	cfg, err := config.Load(o.dir, os.Getenv)
	if err != nil {
		log.Error("configuration", "dir", o.dir, "err", err)
		return exitConfig
	}
	for _, w := range cfg.Warnings {
		log.Warn(w.Error())
	}
	if len(cfg.Env) > 0 {
		log.Info("thingsboard settings from the environment (TB_GW_* wins over upstream's unprefixed names)", "vars", cfg.Env)
	}
	if !o.dryRun { // commissioning writes no log files
		if warns, err := router.ApplyFile(filepath.Join(o.dir, "logs.json")); err != nil {
			log.Error("logs.json, logging to the console only", "err", err)
		} else {
			for _, w := range warns {
				log.Warn(w)
			}
		}
	}

	dataDir, newLink, exe := o.dataDir, gw.NewTBLink(log), ""
	if o.dryRun {
		// Commissioning: nothing is sent and nothing of the installed
		// gateway's state is touched (memory storage, a scratch state
		// directory).
		tmp, err := os.MkdirTemp("", "tbgw-dry-run-")
		if err != nil {
			log.Error("dry run", "err", err)
			return exitRuntime
		}
		defer os.RemoveAll(tmp)
		dataDir = tmp
		cfg.Storage = storage.Config{Type: "memory", MaxRecordsCount: cfg.Storage.MaxRecordsCount, ReadRecordsCount: cfg.Storage.ReadRecordsCount}
		newLink = gw.NewPrintLink(stdout)
	} else {
		if err := gw.CheckThingsBoard(cfg); err != nil {
			log.Error("configuration", "dir", o.dir, "err", err)
			return exitConfig
		}
		if o.ota || cfg.ThingsBoard.OTA.Enabled {
			if p, err := os.Executable(); err == nil {
				exe = p
			}
		}
	}
	stateDir := dataDir
	if stateDir == "" {
		stateDir = cfg.Dir
	}
	var trial *os.File
	if os.Getenv(gw.TrialFDEnv) != "" {
		// A new binary on trial: report health to the parent on fd 3.
		trial = os.NewFile(3, "ota-trial")
		os.Unsetenv(gw.TrialFDEnv)
	}

	reload := make(chan struct{}, 1)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	var bg sync.WaitGroup
	bg.Go(func() {
		for range hup {
			select {
			case reload <- struct{}{}:
			default:
			}
		}
	})
	defer func() {
		signal.Stop(hup)
		close(hup)
		bg.Wait()
	}()

	if trial == nil && exe != "" && gw.TrialPending(stateDir) {
		// The process running a trial died (power loss): run it again.
		return otaTrial(ctx, log, exe, stateDir, cfg)
	}
	opts := gw.Options{
		Executable: exe,
		Version:    version,
		Log:        log,
		Handler:    h,
		Logs:       router,
		NewLink:    newLink,
		DataDir:    dataDir,
		Reload:     reload,
	}
	if trial != nil {
		opts.Trial = trial
	}
	g, err := gw.New(cfg, opts)
	if err != nil {
		log.Error("starting", "err", err)
		return exitRuntime
	}
	if o.dryRun {
		return commission(ctx, g, o, log, stderr)
	}

	hs, err := health.Start(g, o.socket, o.http, log.With("component", "health"))
	if err != nil {
		log.Error("starting", "err", err)
		g.Store().Close()
		return exitRuntime
	}
	defer hs.Close()
	if a := hs.HTTPAddr(); a != "" {
		log.Info("health endpoint", "addr", a)
	}

	log.Info("tbgw started", "version", version, "config", o.dir, "data", dataDir, "connectors", len(cfg.Connectors),
		"thingsboard", fmt.Sprintf("%s:%d", cfg.ThingsBoard.Host, cfg.ThingsBoard.Port))
	notify(log, "READY=1\nSTATUS=running")
	stopNotify := context.AfterFunc(ctx, func() { notify(log, "STOPPING=1\nSTATUS=stopping") })
	defer stopNotify()
	wdCtx, wdStop := context.WithCancel(ctx)
	if iv := sdnotify.WatchdogInterval(); iv > 0 {
		bg.Go(func() { watchdog(wdCtx, g, iv, log) })
	}
	bg.Go(func() { releaseStartupPages(wdCtx, g, log) })
	err = g.Run(ctx)
	wdStop()
	if errors.Is(err, gw.ErrUpdate) && exe != "" {
		hs.Close()
		return otaTrial(ctx, log, exe, stateDir, cfg)
	}
	if errors.Is(err, gw.ErrRestart) {
		log.Info("restarting")
		hs.Close()
		exe, xerr := os.Executable()
		if xerr == nil {
			xerr = syscall.Exec(exe, os.Args, os.Environ())
		}
		log.Error("re-exec failed", "err", xerr)
		return exitRuntime
	}
	if err != nil {
		log.Error("stopped", "err", err)
		return exitRuntime
	}
	log.Info("stopped")
	return exitOK
}

// startupSettle is how long after the first connection to ThingsBoard the
// start-up is taken to be over (the announcements and attribute requests
// that follow the connection).
const startupSettle = 5 * time.Second

// releaseStartupPages gives back the binary's pages that only the package
// initialisers and the start-up touched (most of the resident set of an
// idle gateway): once the gateway has started and connected, before the
// data that may follow at once adds its own pages and heap, and again when
// the start-up has settled.
func releaseStartupPages(ctx context.Context, g *gw.Gateway, log *slog.Logger) {
	if !g.WaitStarted(ctx) {
		return
	}
	if _, err := textpages.Release(); err != nil {
		log.Debug("start-up pages kept", "err", err)
		return
	}
	t := time.NewTimer(startupSettle)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return
	case <-t.C:
	}
	if _, err := textpages.Release(); err != nil {
		log.Debug("start-up pages kept", "err", err)
	}
}

// notify tells systemd (when it runs us with Type=notify) about a state.
func notify(log *slog.Logger, state string) {
	if _, err := sdnotify.Notify(state); err != nil {
		log.Warn("service manager notification", "err", err)
	}
}

// watchdog sends WATCHDOG=1 at half the watchdog period while the
// gateway's control loop answers; when it does not, systemd's watchdog
// ends and restarts the gateway.
func watchdog(ctx context.Context, g *gw.Gateway, iv time.Duration, log *slog.Logger) {
	t := time.NewTicker(iv / 2)
	defer t.Stop()
	for {
		pctx, cancel := context.WithTimeout(ctx, iv/2)
		err := g.Alive(pctx)
		cancel()
		if err == nil {
			notify(log, "WATCHDOG=1")
		} else if ctx.Err() == nil {
			log.Warn("watchdog: gateway not healthy, keep-alive withheld", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// commission runs the gateway with the printing link: until a signal
// (-dry-run), -timeout, or (-once) until every connector has produced
// data. -once fails when a connector produced nothing within the bound.
func commission(ctx context.Context, g *gw.Gateway, o *options, log *slog.Logger, stderr io.Writer) int {
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	bound := o.timeout
	if o.once && bound == 0 {
		bound = defaultOnceBound
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	if o.once || bound > 0 {
		wg.Go(func() {
			wctx := runCtx
			if bound > 0 {
				var c context.CancelFunc
				wctx, c = context.WithTimeout(runCtx, bound)
				defer c()
			}
			if o.once {
				g.WaitData(wctx)
			} else {
				<-wctx.Done()
			}
			cancel()
		})
	}
	log.Info("dry run: connectors run, nothing is sent to ThingsBoard; messages follow on stdout as JSON lines", "version", version, "config", o.dir)
	err := g.Run(runCtx)
	cancel()
	if err != nil && !errors.Is(err, gw.ErrRestart) {
		log.Error("stopped", "err", err)
		return exitRuntime
	}
	if !o.once {
		return exitOK
	}
	code := exitOK
	st := g.Status()
	if len(st.Connectors) == 0 {
		fmt.Fprintln(stderr, "tbgw: no connectors configured")
	}
	for _, c := range st.Connectors {
		if c.Counters["eventsProduced"] > 0 {
			continue
		}
		code = exitRuntime
		why := "no data within " + bound.String()
		if c.LastError != "" {
			why += " (" + c.State + ": " + c.LastError + ")"
		}
		fmt.Fprintf(stderr, "tbgw: connector %q (%s): %s\n", c.Name, c.Type, why)
	}
	return code
}

// otaTrial runs an installed binary on trial, then re-executes whichever
// binary is in place: the new one once committed, the previous one after
// a rollback. The service manager's watchdog is fed meanwhile.
func otaTrial(ctx context.Context, log *slog.Logger, exe, dataDir string, cfg *config.Config) int {
	wdCtx, wdStop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	if iv := sdnotify.WatchdogInterval(); iv > 0 {
		wg.Go(func() {
			t := time.NewTicker(iv / 2)
			defer t.Stop()
			for {
				notify(log, "WATCHDOG=1")
				select {
				case <-wdCtx.Done():
					return
				case <-t.C:
				}
			}
		})
	}
	bound := time.Duration(cfg.ThingsBoard.OTA.HealthCheckSeconds) * time.Second
	err := gw.RunTrial(ctx, gw.Trial{Exe: exe, Args: os.Args[1:], Env: os.Environ(), DataDir: dataDir, Bound: bound, Log: log})
	wdStop()
	wg.Wait()
	if ctx.Err() != nil {
		log.Info("stopped during the trial of an update", "err", err)
		return exitOK
	}
	xerr := syscall.Exec(exe, os.Args, os.Environ())
	log.Error("re-exec failed", "err", xerr)
	return exitRuntime
}
