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

	"github.com/tbgw/tbgw/codec/conf"
	"github.com/tbgw/tbgw/gw/connector"
)

func init() { connector.Register("ocpp", New) }

// Connector is an OCPP central system.
type Connector struct {
	env  connector.Env
	log  *slog.Logger
	plan *plan

	listen atomic.Value // string

	mu       sync.Mutex
	running  bool
	sessions map[string]*session // by charge point id
	byDevice map[string]*session // by device name
	profiles *profileStore
	txSeq    atomic.Int32

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
	if env.Log == nil {
		env.Log = slog.New(slog.DiscardHandler)
	}
	if env.Now == nil {
		env.Now = time.Now
	}
	if env.Name == "" {
		env.Name = "ocpp"
	}
	if env.File == "" {
		env.File = env.Name + ".json"
	}
	wrap := func(err error) error { return fmt.Errorf("ocpp connector %q: %w", env.Name, err) }
	doc, err := conf.Parse(env.File, config)
	if err != nil {
		return nil, wrap(err)
	}
	var cfg fileConfig
	warns, err := doc.Decode(&cfg)
	if err != nil {
		return nil, wrap(err)
	}
	for _, w := range warns {
		env.Log.Warn("ocpp: " + w.Error())
	}
	p, err := compile(doc, &cfg, env.ConfigDir)
	if err != nil {
		return nil, wrap(err)
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

// Run serves charge points until ctx ends.
func (c *Connector) Run(ctx context.Context, sink connector.Sink) error {
	ln, err := net.Listen("tcp", c.plan.addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", c.plan.addr, err)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var handlers sync.WaitGroup
	fail := make(chan error, 1)
	srv := &http.Server{
		Handler: &handler{c: c, ctx: ctx, sink: sink, wg: &handlers, fail: func(err error) {
			select {
			case fail <- err:
			default:
			}
			cancel()
		}},
		ReadHeaderTimeout: 10 * time.Second,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(c.log.Handler(), slog.LevelDebug),
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	if c.plan.tls != nil {
		srv.TLSConfig = c.plan.tls.Clone()
	}
	c.mu.Lock()
	c.running = true
	c.mu.Unlock()
	c.listen.Store(ln.Addr().String())
	c.log.Info("ocpp: central system listening", "addr", ln.Addr().String(), "tls", c.plan.tls != nil)

	served := make(chan error, 1)
	go func() { // ends when srv is closed below
		if c.plan.tls != nil {
			served <- srv.ServeTLS(ln, "", "")
		} else {
			served <- srv.Serve(ln)
		}
	}()
	var runErr error
	select {
	case <-ctx.Done():
	case err := <-served:
		if !errors.Is(err, http.ErrServerClosed) {
			runErr = fmt.Errorf("serve: %w", err)
		}
		cancel()
	}
	_ = srv.Close()
	if runErr == nil {
		<-served
	}
	c.mu.Lock()
	c.running = false
	all := make([]*session, 0, len(c.sessions))
	for _, s := range c.sessions {
		all = append(all, s)
	}
	c.mu.Unlock()
	for _, s := range all {
		s.close()
	}
	handlers.Wait()
	c.listen.Store("")
	select {
	case err := <-fail:
		return err
	default:
	}
	return runErr
}
