package gw

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/tbgw/tbgw/gw/config"
	"github.com/tbgw/tbgw/gw/connector"
)

// Report is the outcome of Check.
type Report struct {
	Config   *config.Config
	Warnings []string
	Errors   []error
}

// Check loads the configuration in dir and builds every connector without
// running it, collecting errors and warnings (unknown keys, connector types
// not built into this binary).
func Check(dir string, getenv func(string) string) Report {
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
