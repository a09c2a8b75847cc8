package logging

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"log/syslog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Options are the parts of the log output not in logs.json.
type Options struct {
	Console io.Writer // console handler output (default os.Stderr)
	JSON    bool      // JSON lines instead of text
	Journal bool      // sd-daemon priority prefixes on the console
	// Dir resolves relative file names of file handlers; LogsPath
	// (TB_GW_LOGS_PATH, as upstream) puts every log file there instead,
	// keeping the file's base name.
	Dir      string
	LogsPath string
	Now      func() time.Time
}

// output is one destination of formatted lines.
type output struct {
	name    string
	level   slog.Level
	journal bool

	mu     sync.Mutex
	buf    bytes.Buffer
	h      slog.Handler // formats into buf
	dst    io.Writer    // console or file; nil for syslog
	file   *rotatingFile
	sys    *syslog.Writer
	closed bool
}

func (o *output) emit(ctx context.Context, r slog.Record) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed || r.Level < o.level {
		return
	}
	o.buf.Reset()
	if o.journal {
		o.buf.WriteString(priorityPrefix(r.Level))
	}
	if o.h.Handle(ctx, r) != nil {
		return
	}
	if o.sys != nil {
		_ = syslogWrite(o.sys, r.Level, strings.TrimSuffix(o.buf.String(), "\n"))
		return
	}
	_, _ = o.dst.Write(o.buf.Bytes())
}

func (o *output) close() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.closed = true
	if o.file != nil {
		o.file.Close()
	}
	if o.sys != nil {
		o.sys.Close()
	}
}

type route struct {
	level slog.Level
	outs  []*output
}

type table struct {
	loggers map[string]route
	root    route
	owned   []*output // closed when the table is replaced
}

func (t *table) route(logger string) route {
	if r, ok := t.loggers[logger]; ok {
		return r
	}
	return t.root
}

// Router is the log output. Its Handler methods are safe for concurrent
// use with Apply.
type Router struct {
	o       Options
	console *output
	cur     atomic.Pointer[table]
	mu      sync.Mutex // serialises Apply and Close
}

// levelNames prints upstream's TRACE and CRITICAL.
func levelNames(groups []string, a slog.Attr) slog.Attr {
	if a.Key == slog.LevelKey && len(groups) == 0 {
		if l, ok := a.Value.Any().(slog.Level); ok {
			switch {
			case l < slog.LevelDebug:
				a.Value = slog.StringValue("TRACE")
			case l >= slog.LevelError+4:
				a.Value = slog.StringValue("CRITICAL")
			}
		}
	}
	return a
}

func noTime(groups []string, a slog.Attr) slog.Attr {
	if a.Key == slog.TimeKey && len(groups) == 0 {
		return slog.Attr{}
	}
	return levelNames(groups, a)
}

func (r *Router) formatter(o *output, syslog bool) {
	ho := &slog.HandlerOptions{Level: LevelTrace, ReplaceAttr: levelNames}
	if syslog {
		ho.ReplaceAttr = noTime
		o.h = slog.NewTextHandler(&o.buf, ho)
		return
	}
	if r.o.JSON {
		o.h = slog.NewJSONHandler(&o.buf, ho)
	} else {
		o.h = slog.NewTextHandler(&o.buf, ho)
	}
}

// New returns a router logging every logger at INFO (connectors at their
// own level) to the console, until Apply configures it.
func New(o Options) *Router {
	if o.Console == nil {
		o.Console = os.Stderr
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	r := &Router{o: o}
	r.console = &output{name: "console", level: LevelTrace, journal: o.Journal, dst: o.Console}
	r.formatter(r.console, false)
	r.cur.Store(&table{loggers: map[string]route{}, root: route{level: slog.LevelInfo, outs: []*output{r.console}}})
	return r
}

func (r *Router) filePath(name string) string {
	if r.o.LogsPath != "" {
		return filepath.Join(r.o.LogsPath, filepath.Base(name))
	}
	if filepath.IsAbs(name) {
		return name
	}
	return filepath.Join(r.o.Dir, name)
}

// open builds the output of a handler.
func (r *Router) open(name string, spec HandlerSpec) (*output, error) {
	kind, err := spec.kind()
	if err != nil {
		return nil, err
	}
	lv, ok, _ := ParseLevel(spec.Level)
	if !ok {
		lv = LevelTrace
	}
	switch kind {
	case kindConsole:
		if lv == LevelTrace {
			return r.console, nil
		}
		o := &output{name: name, level: lv, journal: r.o.Journal, dst: r.o.Console}
		r.formatter(o, false)
		return o, nil
	case kindFile:
		f, err := openRotating(r.filePath(spec.Filename), spec, r.o.Now)
		if err != nil {
			return nil, err
		}
		o := &output{name: name, level: lv, dst: f, file: f}
		r.formatter(o, false)
		return o, nil
	default:
		w, err := dialSyslog(spec, "tbgw")
		if err != nil {
			return nil, err
		}
		o := &output{name: name, level: lv, sys: w}
		r.formatter(o, true)
		return o, nil
	}
}

// Apply switches to cfg. Outputs that cannot be opened are left out and
// reported in the returned error; the rest applies.
func (r *Router) Apply(cfg *Config) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	var errs []error
	opened := map[string]*output{}
	t := &table{loggers: map[string]route{}}
	outs := func(names []string) []*output {
		var l []*output
		for _, n := range names {
			if o, ok := opened[n]; ok {
				if o != nil {
					l = append(l, o)
				}
				continue
			}
			spec, ok := cfg.Handlers[n]
			if !ok {
				errs = append(errs, fmt.Errorf("handler %s is not defined", n))
				opened[n] = nil
				continue
			}
			o, err := r.open(n, spec)
			if err != nil {
				errs = append(errs, fmt.Errorf("handler %s: %w", n, err))
				opened[n] = nil
				continue
			}
			opened[n] = o
			if o != r.console {
				t.owned = append(t.owned, o)
			}
			l = append(l, o)
		}
		return l
	}
	t.root = route{level: slog.LevelWarn, outs: []*output{r.console}} // Python's root default
	if cfg.Root != nil {
		lv, ok, _ := ParseLevel(cfg.Root.Level)
		if !ok {
			lv = slog.LevelWarn
		}
		t.root = route{level: lv, outs: outs(cfg.Root.Handlers)}
	}
	for name, l := range cfg.Loggers {
		lv, ok, _ := ParseLevel(l.Level)
		if !ok {
			lv = t.root.level
		}
		rt := route{level: lv, outs: outs(l.Handlers)}
		if l.Propagate == nil || *l.Propagate {
			for _, o := range t.root.outs {
				if !containsOut(rt.outs, o) {
					rt.outs = append(rt.outs, o)
				}
			}
		}
		t.loggers[name] = rt
	}
	old := r.cur.Swap(t)
	for _, o := range old.owned {
		o.close()
	}
	return errors.Join(errs...)
}

func containsOut(l []*output, o *output) bool {
	for _, x := range l {
		if x == o {
			return true
		}
	}
	return false
}

// Close closes the files and syslog connections; later records go to the
// console only.
func (r *Router) Close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	old := r.cur.Swap(&table{loggers: map[string]route{}, root: route{level: slog.LevelInfo, outs: []*output{r.console}}})
	for _, o := range old.owned {
		o.close()
	}
}

// Handler returns the handler of the service logger; With("component", x)
// makes it logger x, With("connector", name) the connector logger.
func (r *Router) Handler() slog.Handler { return &handler{r: r, logger: "service"} }

type handler struct {
	r         *Router
	logger    string
	component bool        // logger set by a component attribute
	attrs     []slog.Attr // With attributes, one per key
	prefix    string      // group prefix
}

// ConnectorLogger is the logger name of records with a "connector"
// attribute; its level is the connector's own (logLevel), not the route's.
const ConnectorLogger = "connector"

func (h *handler) Enabled(_ context.Context, l slog.Level) bool {
	rt := h.r.cur.Load().route(h.logger)
	if h.logger != ConnectorLogger && l < rt.level {
		return false
	}
	for _, o := range rt.outs {
		if l >= o.level {
			return true
		}
	}
	return false
}

func (h *handler) Handle(ctx context.Context, rec slog.Record) error {
	rt := h.r.cur.Load().route(h.logger)
	if h.logger != ConnectorLogger && rec.Level < rt.level || len(rt.outs) == 0 {
		return nil
	}
	attrs := append([]slog.Attr(nil), h.attrs...)
	rec.Attrs(func(a slog.Attr) bool {
		attrs = setAttr(attrs, h.prefix, a)
		return true
	})
	nr := slog.NewRecord(rec.Time, rec.Level, rec.Message, rec.PC)
	nr.AddAttrs(attrs...)
	for _, o := range rt.outs {
		o.emit(ctx, nr)
	}
	return nil
}

// setAttr sets a (flattened under prefix) in attrs, replacing an earlier
// attribute of the same key.
func setAttr(attrs []slog.Attr, prefix string, a slog.Attr) []slog.Attr {
	v := a.Value.Resolve()
	if v.Kind() == slog.KindGroup {
		p := prefix
		if a.Key != "" {
			p += a.Key + "."
		}
		for _, g := range v.Group() {
			attrs = setAttr(attrs, p, g)
		}
		return attrs
	}
	if a.Key == "" {
		return attrs
	}
	a = slog.Attr{Key: prefix + a.Key, Value: v}
	for i := range attrs {
		if attrs[i].Key == a.Key {
			attrs[i] = a
			return attrs
		}
	}
	return append(attrs, a)
}

func (h *handler) WithAttrs(as []slog.Attr) slog.Handler {
	c := *h
	c.attrs = append([]slog.Attr(nil), h.attrs...)
	for _, a := range as {
		c.attrs = setAttr(c.attrs, h.prefix, a)
		if h.prefix != "" {
			continue
		}
		switch a.Key {
		case "component":
			c.logger, c.component = a.Value.String(), true
		case "connector":
			if !c.component {
				c.logger = ConnectorLogger
			}
		}
	}
	return &c
}

func (h *handler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	c := *h
	c.prefix += name + "."
	return &c
}

// ApplyFile applies dir/logs.json when it exists (else keeps the
// defaults), returning warnings about ignored handlers and outputs that
// could not be opened.
func (r *Router) ApplyFile(path string) ([]string, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	cfg, warns, err := Parse(b)
	if err != nil {
		return nil, err
	}
	if err := r.Apply(cfg); err != nil {
		warns = append(warns, err.Error())
	}
	return warns, nil
}
