package ocpp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tbgw/tbgw/drivers/kit"
	"github.com/tbgw/tbgw/gw/connector"
)

func init() { connector.Register("ocpp", New) }

// Connector is an OCPP central system.
type Connector struct {
	env  connector.Env
	log  *slog.Logger
	plan *plan

	listen atomic.Value // string

	mu        sync.Mutex
	running   bool
	group     *kit.Group          // while running
	sessions  map[string]*session // by charge point id
	byDevice  map[string]*session // by device name
	profiles  *profileStore
	txSeq     atomic.Int32
	upgrading atomic.Int32 // connections between the checks and register

	stats counters
}

type counters struct {
	connections, rejected, received, sent, callErrors, dataSent, dropped atomic.Uint64
}

var (
	_ connector.Connector        = (*Connector)(nil)
	_ connector.AttributeHandler = (*Connector)(nil)
	_ connector.RPCHandler       = (*Connector)(nil)
)

// New is the connector.Factory of the "ocpp" type.
func New(config []byte, env connector.Env) (connector.Connector, error) {
	var cfg fileConfig
	doc, err := kit.Setup("ocpp", config, &env, &cfg)
	if err != nil {
		return nil, err
	}
	p, err := compile(doc, &cfg, env.ConfigDir)
	if err != nil {
		return nil, kit.Errorf(env, err)
	}
	for _, w := range p.warnings {
		env.Log.Warn(w)
	}
	c := &Connector{env: env, log: env.Log, plan: p, sessions: map[string]*session{}, byDevice: map[string]*session{},
		profiles: newProfileStore(env.DataDir)}
	c.listen.Store("")
	// Transaction ids of OCPP 1.6 are integers chosen by the CSMS; start
	// from the clock so that ids stay distinct across restarts.
	c.txSeq.Store(int32(env.Now().Unix() & 0x3fffffff))
	return c, nil
}

// ListenAddr is where the central system listens, "" until it does.
func (c *Connector) ListenAddr() string { return c.listen.Load().(string) }

// Stats reports the connector's counters.
func (c *Connector) Stats() map[string]uint64 {
	c.mu.Lock()
	n := len(c.sessions)
	c.mu.Unlock()
	return map[string]uint64{
		"chargePointsConnected": uint64(n),
		"connectionsAccepted":   c.stats.connections.Load(),
		"connectionsRejected":   c.stats.rejected.Load(),
		"messagesReceived":      c.stats.received.Load(),
		"messagesSent":          c.stats.sent.Load(),
		"callErrorsSent":        c.stats.callErrors.Load(),
		"dataItemsSent":         c.stats.dataSent.Load(),
		"dataRefusedStorage":    c.stats.dropped.Load(),
	}
}

// Run serves charge points until ctx ends. The server, every session and
// its pinger run in one kit.Group: a panic in any of them ends Run with
// an error (the supervisor restarts the connector).
func (c *Connector) Run(ctx context.Context, sink connector.Sink) error {
	ln, err := net.Listen("tcp", c.plan.addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", c.plan.addr, err)
	}
	g, gctx := kit.NewGroup(ctx)
	srv := &http.Server{
		Handler:           &handler{c: c, ctx: gctx, sink: sink},
		ReadHeaderTimeout: 10 * time.Second,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(c.log.Handler(), slog.LevelDebug),
		BaseContext:       func(net.Listener) context.Context { return gctx },
	}
	// WebSocket upgrades need HTTP/1.1: over TLS, h2 is not offered.
	srv.Protocols = new(http.Protocols)
	srv.Protocols.SetHTTP1(true)
	if c.plan.tls != nil {
		srv.TLSConfig = c.plan.tls.Clone()
	}
	c.mu.Lock()
	c.running, c.group = true, g
	c.mu.Unlock()
	c.listen.Store(ln.Addr().String())
	c.log.Info("ocpp: central system listening", "addr", ln.Addr().String(), "tls", c.plan.tls != nil)
	g.Go("serve", func() error {
		var err error
		if c.plan.tls != nil {
			err = srv.ServeTLS(ln, "", "")
		} else {
			err = srv.Serve(ln)
		}
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return fmt.Errorf("serve: %w", err)
	})
	g.Go("stop", func() error {
		<-gctx.Done()
		// No session starts after this: the handler checks running under
		// c.mu, and this goroutine is counted by the group until it ends.
		c.mu.Lock()
		c.running, c.group = false, nil
		all := make([]*session, 0, len(c.sessions))
		for _, s := range c.sessions {
			all = append(all, s)
		}
		c.mu.Unlock()
		_ = srv.Close()
		for _, s := range all {
			s.close()
		}
		return nil
	})
	err = g.Wait()
	c.listen.Store("")
	if ctx.Err() != nil && !isPanic(err) {
		return nil
	}
	return err
}

func isPanic(err error) bool {
	var pe *kit.PanicError
	return errors.As(err, &pe)
}
