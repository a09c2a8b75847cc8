// Command tbgw is a ThingsBoard IoT Gateway: it bridges field devices into
// ThingsBoard through connectors configured with the upstream gateway's
// configuration files.
//
//	tbgw [-c DIR]            run the gateway (default DIR /etc/tbgw, or $TB_GW_CONFIG_DIR)
//	tbgw check [-c DIR]      validate the configuration and exit
//	tbgw version             print the version
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	_ "github.com/tbgw/tbgw/drivers/all"
	"github.com/tbgw/tbgw/gw"
	"github.com/tbgw/tbgw/gw/config"
	"github.com/tbgw/tbgw/gw/connector"
)

// version is stamped at build time with -ldflags "-X main.version=...".
var version = "dev"

const defaultConfigDir = "/etc/tbgw"

// defaultMemoryLimit is the Go soft memory limit unless $GOMEMLIMIT says
// otherwise.
const defaultMemoryLimit = 20 << 20

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	cmd := "run"
	if len(args) > 0 && (args[0] == "check" || args[0] == "version" || args[0] == "run") {
		cmd, args = args[0], args[1:]
	}
	fs := flag.NewFlagSet("tbgw", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("c", "", "configuration directory (default $TB_GW_CONFIG_DIR or "+defaultConfigDir+")")
	dataDir := fs.String("data", "", "directory for state (connected_devices.json, connector state); default $TB_GW_DATA_DIR, else the configuration directory")
	logFormat := fs.String("log-format", "text", "log format: text or json")
	ota := fs.Bool("ota", os.Getenv("TB_GW_OTA") == "1" || os.Getenv("TB_GW_OTA") == "true",
		"accept firmware updates of tbgw itself from ThingsBoard (default off; or TB_GW_OTA=1)")
	strict := fs.Bool("strict", false, "refuse configurations with warnings (unknown keys, unusable entries) instead of skipping; also $TB_GW_STRICT_CONFIG=1")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *dir == "" {
		*dir = os.Getenv("TB_GW_CONFIG_DIR")
	}
	if *dir == "" {
		*dir = defaultConfigDir
	}
	if *dataDir == "" {
		*dataDir = os.Getenv("TB_GW_DATA_DIR")
	}
	switch cmd {
	case "version":
		fmt.Fprintln(stdout, "tbgw", version, "connectors:", connector.Types())
		return 0
	case "check":
		return check(*dir, *strict, stdout, stderr)
	}
	if *strict {
		os.Setenv("TB_GW_STRICT_CONFIG", "1")
	}
	return serve(*dir, *dataDir, *logFormat, *ota, stderr)
}

func check(dir string, strict bool, stdout, stderr io.Writer) int {
	getenv := os.Getenv
	if strict {
		getenv = func(k string) string {
			if k == "TB_GW_STRICT_CONFIG" {
				return "1"
			}
			return os.Getenv(k)
		}
	}
	r := gw.Check(dir, getenv)
	for _, w := range r.Warnings {
		fmt.Fprintln(stderr, "warning:", w)
	}
	for _, e := range r.Errors {
		fmt.Fprintln(stderr, "error:", e)
	}
	if len(r.Errors) > 0 {
		return 1
	}
	fmt.Fprintf(stdout, "%s: configuration OK (%d connectors)\n", dir, len(r.Config.Connectors))
	return 0
}

func serve(dir, dataDir, format string, ota bool, stderr io.Writer) int {
	// One handler at the lowest level; the service logger and every
	// connector logger filter at their own level.
	level := new(slog.LevelVar)
	hopts := &slog.HandlerOptions{Level: config.LevelTrace}
	var h slog.Handler = slog.NewTextHandler(stderr, hopts)
	if format == "json" {
		h = slog.NewJSONHandler(stderr, hopts)
	}
	log := slog.New(gw.LevelHandler(h, level))
	slog.SetDefault(log)

	if os.Getenv("GOMEMLIMIT") == "" {
		// A soft limit keeps the resident set small on 64 MB boards: the
		// collector works harder near it instead of doubling the heap.
		debug.SetMemoryLimit(defaultMemoryLimit)
	}
	cfg, err := config.Load(dir, os.Getenv)
	if err != nil {
		log.Error("configuration", "dir", dir, "err", err)
		return 1
	}
	for _, w := range cfg.Warnings {
		log.Warn(w.Error())
	}
	if len(cfg.Env) > 0 {
		log.Info("thingsboard settings from the environment (TB_GW_* wins over upstream's unprefixed names)", "vars", cfg.Env)
	}
	if lv, ok := cfg.LogLevels["service"]; ok {
		level.Set(lv)
	}

	reload := make(chan struct{}, 1)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	go func() {
		for range hup {
			select {
			case reload <- struct{}{}:
			default:
			}
		}
	}()

	exe := ""
	if ota {
		if p, err := os.Executable(); err == nil {
			exe = p
		}
	}
	g, err := gw.New(cfg, gw.Options{
		Executable: exe,
		Version:    version,
		Log:        log,
		Level:      level,
		Handler:    h,
		NewLink:    gw.NewTBLink(log),
		DataDir:    dataDir,
		Reload:     reload,
	})
	if err != nil {
		log.Error("starting", "err", err)
		return 1
	}
	log.Info("tbgw started", "version", version, "config", dir, "connectors", len(cfg.Connectors),
		"thingsboard", fmt.Sprintf("%s:%d", cfg.ThingsBoard.Host, cfg.ThingsBoard.Port))
	err = g.Run(ctx)
	signal.Stop(hup)
	close(hup)
	if errors.Is(err, gw.ErrRestart) {
		log.Info("restarting")
		exe, xerr := os.Executable()
		if xerr == nil {
			xerr = syscall.Exec(exe, os.Args, os.Environ())
		}
		log.Error("re-exec failed", "err", xerr)
		return 1
	}
	if err != nil {
		log.Error("stopped", "err", err)
		return 1
	}
	log.Info("stopped")
	return 0
}
