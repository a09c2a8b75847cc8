package ftp

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tbgw/tbgw/drivers/kit"
	"github.com/tbgw/tbgw/drivers/kit/backoff"
	"github.com/tbgw/tbgw/gw/connector"
)

func init() { connector.Register("ftp", New) }

// Connector polls files on an FTP or FTPS server.
type Connector struct {
	env  connector.Env
	log  *slog.Logger
	plan *plan

	running atomic.Bool
	stateMu sync.Mutex // serialises Run's state with itself across restarts

	stats struct {
		files, lines, bytes, sent, badLines, errors atomic.Uint64
	}
}

var (
	_ connector.Connector        = (*Connector)(nil)
	_ connector.AttributeHandler = (*Connector)(nil)
	_ connector.RPCHandler       = (*Connector)(nil)
)

type envInfo struct {
	configDir string
	warn      func(error)
}

// New is the connector.Factory of the "ftp" type: it parses and validates
// config without network I/O.
func New(config []byte, env connector.Env) (connector.Connector, error) {
	var cfg fileConfig
	doc, err := kit.Setup("ftp", config, &env, &cfg)
	if err != nil {
		return nil, err
	}
	warn := func(w error) { env.Log.Warn("ftp: " + w.Error()) }
	p, err := compile(doc, &cfg, envInfo{configDir: env.ConfigDir, warn: warn})
	if err != nil {
		return nil, kit.Errorf(env, err)
	}
	return &Connector{env: env, log: env.Log, plan: p}, nil
}

// Stats reports counters for the gateway's statistics.
func (c *Connector) Stats() map[string]uint64 {
	return map[string]uint64{
		"filesRead":    c.stats.files.Load(),
		"linesRead":    c.stats.lines.Load(),
		"bytesRead":    c.stats.bytes.Load(),
		"itemsSent":    c.stats.sent.Load(),
		"linesDropped": c.stats.badLines.Load(),
		"pollErrors":   c.stats.errors.Load(),
	}
}

func (c *Connector) statePath() string {
	if c.env.DataDir == "" {
		return ""
	}
	return filepath.Join(c.env.DataDir, "ftp-state.json")
}

// Run polls the configured paths until ctx ends. One control connection
// serves all paths; it is opened on the first poll, checked with NOOP
// before each round and re-opened after a failure with a back-off of one
// second doubling up to a minute.
func (c *Connector) Run(ctx context.Context, sink connector.Sink) error {
	c.stateMu.Lock()
	defer c.stateMu.Unlock()
	st, err := loadState(c.statePath())
	if err != nil {
		return err
	}
	c.running.Store(true)
	defer c.running.Store(false)

	next := make([]time.Time, len(c.plan.paths))
	now := time.Now()
	for i := range next {
		next[i] = now
	}
	var s *session
	defer func() { s.close() }()
	bo := backoff.Policy{Min: time.Second, Max: time.Minute}.New()
	delay := time.Duration(0)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		wait := time.Duration(-1)
		if delay > 0 {
			wait = delay
		} else {
			now := time.Now()
			for _, t := range next {
				if d := t.Sub(now); wait < 0 || d < wait {
					wait = d
				}
			}
		}
		if len(next) == 0 {
			<-ctx.Done()
			return nil
		}
		if wait > 0 {
			timer.Reset(wait)
			select {
			case <-ctx.Done():
				return nil
			case <-timer.C:
			}
		}
		if ctx.Err() != nil {
			return nil
		}
		if s != nil && s.alive() != nil {
			s.close()
			s = nil
		}
		if s == nil {
			if s, err = dial(ctx, &c.plan.srv); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				delay = bo.Next()
				c.stats.errors.Add(1)
				c.log.Warn("ftp: cannot connect", "server", c.plan.srv.addr, "err", err, "retryIn", delay.Round(time.Millisecond))
				continue
			}
			c.log.Info("ftp: connected", "server", c.plan.srv.addr, "tls", c.plan.srv.tls != nil)
		}
		failed := false
		for i, p := range c.plan.paths {
			if time.Now().Before(next[i]) {
				continue
			}
			if err := c.pollPath(ctx, s, p, st, sink); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				if errors.Is(err, errStorage) {
					next[i] = time.Now().Add(p.period)
					continue
				}
				c.stats.errors.Add(1)
				delay = bo.Next()
				c.log.Warn("ftp: poll failed, reconnecting", "path", p.pattern, "err", err, "retryIn", delay.Round(time.Millisecond))
				s.close()
				s = nil
				failed = true
				break
			}
			next[i] = time.Now().Add(p.period)
		}
		if !failed {
			delay = 0
			bo.Reset()
		}
	}
}
