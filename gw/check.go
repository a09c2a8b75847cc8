package gw

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/tbgw/tbgw/gw/config"
	"github.com/tbgw/tbgw/gw/connector"
	"github.com/tbgw/tbgw/gw/tb"
)

// Report is the outcome of Check.
type Report struct {
	Config   *config.Config
	Warnings []string
	Errors   []error
}

// Check loads the configuration in dir and builds what the gateway builds
// at start without running or connecting anything and without writing:
// the ThingsBoard client settings (credentials, certificate files), the
// storage settings against dataDir (which must be usable) and every
// connector. It collects errors and warnings (unknown keys, connector
// types not built into this binary, upstream storage files).
func Check(dir, dataDir string, getenv func(string) string) Report {
	var r Report
	cfg, err := config.Load(dir, getenv)
	if err != nil {
		r.Errors = append(r.Errors, err)
		return r
	}
	r.Config = cfg
	for _, w := range cfg.Warnings {
		r.Warnings = append(r.Warnings, w.Error())
	}
	defer func() {
		// Strict: every warning fails the check.
		if cfg.Strict {
			for _, w := range r.Warnings {
				r.Errors = append(r.Errors, errors.New(w))
			}
			r.Warnings = nil
		}
	}()
	r.checkLink(cfg)
	r.checkStorage(cfg, dataDir)
	for _, c := range cfg.Connectors {
		if _, ok := connector.Lookup(c.Type); !ok {
			r.Warnings = append(r.Warnings, c.Path+": connector type \""+c.Type+"\" is not built into this binary; it will not run")
			continue
		}
		rec := &recorder{}
		env := connector.Env{Name: c.Name, Type: c.Type, ID: c.ID, Log: slog.New(rec), Now: time.Now, File: filepath.Base(c.Path), ConfigDir: cfg.Dir, DataDir: os.TempDir(), Strict: cfg.Strict}
		if _, err := Build(c, env); err != nil {
			r.Errors = append(r.Errors, err)
		}
		for _, w := range rec.msgs {
			r.Warnings = append(r.Warnings, c.Path+": "+w)
		}
	}
	return r
}

// CheckThingsBoard builds the ThingsBoard client from cfg without
// connecting: an error is a configuration error (bad host or port, no
// credentials, a certificate file that is missing or unusable).
func CheckThingsBoard(cfg *config.Config) error {
	tc := TBConfig(cfg)
	if ProvisioningConfigured(cfg, os.Getenv) {
		// Credentials come from provisioning (provision.go): check the rest.
		tc.Security = tb.Security{AccessToken: "provisioned", CACert: tc.Security.CACert, TLS: tc.Security.TLS}
	}
	_, err := tb.New(tc, nil, tb.Handler{})
	return err
}

// checkLink builds the ThingsBoard client as the gateway does (it loads
// the certificate files and checks the credentials; no network I/O).
func (r *Report) checkLink(cfg *config.Config) {
	if err := CheckThingsBoard(cfg); err != nil {
		r.Errors = append(r.Errors, err)
	}
	tc := TBConfig(cfg)
	for _, v := range []string{tc.Security.AccessToken, tc.Security.Username, tc.Security.Password} {
		if strings.HasPrefix(v, "YOUR_") {
			r.Warnings = append(r.Warnings, fmt.Sprintf("thingsboard.security: %q is the sample's placeholder, not a credential", v))
			break
		}
	}
}

// checkStorage resolves the storage settings against dataDir and checks,
// without writing, that the data directory and the log's directory can be
// written or created.
func (r *Report) checkStorage(cfg *config.Config, dataDir string) {
	if dataDir == "" {
		dataDir = cfg.Dir
	}
	sc, notes := StorageConfig(cfg, dataDir)
	r.Warnings = append(r.Warnings, notes...)
	if err := sc.Validate(); err != nil {
		r.Errors = append(r.Errors, err)
	}
	if err := UsableDir(dataDir); err != nil {
		r.Errors = append(r.Errors, err)
		return
	}
	dir := ""
	switch sc.Type {
	case "file":
		dir = sc.DataFolderPath
	case "sqlite":
		dir = sc.DataFilePath
	}
	if dir != "" && dir != dataDir {
		if err := UsableDir(dir); err != nil {
			r.Errors = append(r.Errors, fmt.Errorf("storage: %w", err))
		}
	}
}

// Err joins the errors of a report.
func (r Report) Err() error { return errors.Join(r.Errors...) }

// recorder is a slog handler keeping warning messages.
type recorder struct {
	mu    sync.Mutex
	msgs  []string
	attrs []slog.Attr
}

func (h *recorder) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelWarn }
func (h *recorder) Handle(_ context.Context, rec slog.Record) error {
	msg := rec.Message
	rec.Attrs(func(a slog.Attr) bool {
		msg += " " + a.String()
		return true
	})
	h.mu.Lock()
	h.msgs = append(h.msgs, msg)
	h.mu.Unlock()
	return nil
}
func (h *recorder) WithAttrs(a []slog.Attr) slog.Handler { return h }
func (h *recorder) WithGroup(string) slog.Handler        { return h }
