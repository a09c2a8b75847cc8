package rest

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tbgw/tbgw/drivers/kit"
	"github.com/tbgw/tbgw/drivers/kit/tlsconf"
	"github.com/tbgw/tbgw/gw/connector"
)

func init() { connector.Register("rest", New) }

// Connector is an HTTP server devices push data to, and the client of the
// HTTP calls of attribute updates and RPCs.
type Connector struct {
	env     connector.Env
	log     *slog.Logger
	plan    *plan
	live    atomic.Bool
	addr    atomic.Value // string
	waiters waiters

	requests, messages, rejected, busy, storageFull, errors, bytesIn, downlinks, downlinkErrors atomic.Uint64
}

var (
	_ connector.Connector        = (*Connector)(nil)
	_ connector.AttributeHandler = (*Connector)(nil)
	_ connector.RPCHandler       = (*Connector)(nil)
	_ connector.Statser          = (*Connector)(nil)
	_ connector.Listener         = (*Connector)(nil)
)

// New is the connector.Factory of the "rest" type.
func New(config []byte, env connector.Env) (connector.Connector, error) {
	var cfg fileConfig
	doc, err := kit.Setup("rest", config, &env, &cfg)
	if err != nil {
		return nil, err
	}
	p, err := compile(doc, &cfg, env.ConfigDir, func(w string) { env.Log.Warn(w) })
	if err != nil {
		return nil, kit.Errorf(env, err)
	}
	c := &Connector{env: env, log: env.Log, plan: p}
	c.addr.Store("")
	return c, nil
}

// ListenAddr is the address the server listens on, "" until it does.
func (c *Connector) ListenAddr() string { return c.addr.Load().(string) }

// Run serves the endpoints until ctx ends, then shuts the server down,
// giving requests in progress a few seconds.
func (c *Connector) Run(ctx context.Context, sink connector.Sink) error {
	tc, err := c.tlsConfig()
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", c.plan.addr)
	if err != nil {
		return err
	}
	ln = newLimitListener(ln, c.plan.maxConns)
	if tc != nil {
		ln = tls.NewListener(ln, tc)
	}
	h := &handler{c: c, sink: sink, sem: make(chan struct{}, c.plan.maxConc), panics: make(chan error, 1)}
	srv := &http.Server{
		Handler:           h.mux(),
		ReadHeaderTimeout: min(10*time.Second, c.plan.readTimeout),
		ReadTimeout:       c.plan.readTimeout,
		WriteTimeout:      c.plan.readTimeout + c.plan.writeTimeout,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          log.New(slogWriter{c.log}, "", 0),
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	g, gctx := kit.NewGroup(ctx)
	g.Go("serve", func() error {
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	})
	g.Go("handler panics", func() error {
		select {
		case err := <-h.panics:
			return err
		case <-gctx.Done():
			return nil
		}
	})
	c.addr.Store(ln.Addr().String())
	c.live.Store(true)
	c.log.Info("rest: listening", "addr", ln.Addr().String(), "tls", tc != nil, "endpoints", len(c.plan.routes))
	<-gctx.Done()
	c.live.Store(false)
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	if err := srv.Shutdown(sctx); err != nil {
		srv.Close()
	}
	cancel()
	err = g.Wait()
	c.addr.Store("")
	for _, a := range c.plan.attrs {
		a.Close()
	}
	for _, r := range c.plan.rpcs {
		r.Close()
	}
	return err
}

// tlsConfig loads the configured certificate, or generates a self-signed
// one in the data directory when none is given or its files are missing,
// as upstream does.
func (c *Connector) tlsConfig() (*tls.Config, error) {
	p := c.plan
	if !p.tls {
		return nil, nil
	}
	cert, key := p.certFile, p.keyFile
	if !exists(cert) || !exists(key) {
		if cert != "" {
			c.log.Warn("rest: certificate files not found, using a generated self-signed certificate", "cert", cert, "key", key)
		}
		var err error
		cert, key, err = tlsconf.SelfSigned(c.env.DataDir, p.host)
		if err != nil {
			return nil, fmt.Errorf("self-signed certificate: %w", err)
		}
	}
	return tlsconf.Options{CertFile: cert, KeyFile: key, CAFile: p.caFile, ClientAuth: p.caFile != ""}.Server()
}

func exists(f string) bool {
	if f == "" {
		return false
	}
	_, err := os.Stat(f)
	return err == nil
}

// Stats reports the connector's counters.
func (c *Connector) Stats() map[string]uint64 {
	return map[string]uint64{
		"requests":       c.requests.Load(),
		"messages":       c.messages.Load(),
		"rejected":       c.rejected.Load(),
		"busy":           c.busy.Load(),
		"storageFull":    c.storageFull.Load(),
		"errors":         c.errors.Load(),
		"bytesReceived":  c.bytesIn.Load(),
		"downlinks":      c.downlinks.Load(),
		"downlinkErrors": c.downlinkErrors.Load(),
	}
}

// slogWriter sends net/http's own messages (TLS handshake errors, ...) to
// the connector's log at debug level.
type slogWriter struct{ log *slog.Logger }

func (w slogWriter) Write(p []byte) (int, error) {
	w.log.Debug("rest: http server", "msg", string(p))
	return len(p), nil
}

// limitListener accepts at most n connections at once; further clients
// wait in the kernel's backlog.
type limitListener struct {
	net.Listener
	sem chan struct{}
}

func newLimitListener(l net.Listener, n int) net.Listener {
	return &limitListener{Listener: l, sem: make(chan struct{}, n)}
}

func (l *limitListener) Accept() (net.Conn, error) {
	l.sem <- struct{}{}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.sem
		return nil, err
	}
	return &limitConn{Conn: c, release: func() { <-l.sem }}, nil
}

type limitConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}
