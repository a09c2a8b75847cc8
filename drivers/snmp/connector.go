package snmp

import (
	"context"
	"log/slog"
	"sync/atomic"

	"github.com/tbgw/tbgw/drivers/kit"
	"github.com/tbgw/tbgw/drivers/kit/poll"
	"github.com/tbgw/tbgw/gw/connector"
)

func init() { connector.Register("snmp", New) }

// Connector polls SNMP agents, receives their traps and writes to them.
type Connector struct {
	env    connector.Env
	log    *slog.Logger
	plan   *plan
	byName map[string]*device // first device of each name (downlink target)

	trapAddr atomic.Value // string: where the trap receiver listens
}

var (
	_ connector.Connector        = (*Connector)(nil)
	_ connector.AttributeHandler = (*Connector)(nil)
	_ connector.RPCHandler       = (*Connector)(nil)
)

// New is the connector.Factory of the "snmp" type: it parses and validates
// config without any network I/O.
func New(config []byte, env connector.Env) (connector.Connector, error) {
	var cfg fileConfig
	doc, err := kit.Setup("snmp", config, &env, &cfg)
	if err != nil {
		return nil, err
	}
	log := env.Log
	warn := func(w error) { log.Warn(w.Error()) }
	skip := func(err error) error { return kit.Skip(env, err) }
	p, err := compile(doc, &cfg, warn, skip)
	if err != nil {
		return nil, kit.Errorf(env, err)
	}
	c := &Connector{env: env, log: log, plan: p, byName: map[string]*device{}}
	for _, d := range p.devices {
		d.init()
		if _, dup := c.byName[d.name]; !dup {
			c.byName[d.name] = d
		}
	}
	return c, nil
}

// Run polls every device on its own schedule with a bounded pool of
// workers (kit/poll) and, when configured, receives traps, until ctx is
// cancelled.
func (c *Connector) Run(ctx context.Context, sink connector.Sink) error {
	g, ctx := kit.NewGroup(ctx)
	out := kit.NewSender(sink, c.log)
	var polled []*device
	for _, d := range c.plan.devices {
		if d.scheduled() {
			polled = append(polled, d)
		}
	}
	n := min(c.plan.workers, len(polled))
	if n > 0 {
		// Each running poll borrows one worker's sockets and engine.
		pool := make(chan *worker, n)
		for range n {
			pool <- &worker{}
		}
		defer func() {
			for range n {
				(<-pool).close()
			}
		}()
		s := poll.New(poll.Options{Workers: n, Sink: sink, Log: c.log, MaxBackoff: maxBackoff})
		for _, d := range polled {
			s.Add(poll.Job{Name: d.name, Type: d.typ, Period: d.period, Poll: func(ctx context.Context) error {
				w := <-pool
				defer func() { pool <- w }()
				stop := context.AfterFunc(ctx, w.socks.stop) // unblock reads on cancel
				defer stop()
				return c.poll(ctx, out, w, d)
			}})
		}
		g.Go("snmp poll", func() error { return s.Run(ctx) })
	}
	if c.plan.traps != nil {
		g.Go("snmp traps", func() error { c.receiveTraps(ctx, g, out); return nil })
	}
	c.log.Info("started", "devices", len(c.plan.devices), "workers", n, "traps", c.plan.traps != nil)
	<-ctx.Done()
	return g.Wait()
}

// worker is what a polling goroutine owns: its sockets and its engine.
type worker struct {
	socks sockets
	eng   *engine
}

// close releases the worker's sockets and engine.
func (w *worker) close() {
	w.socks.stop()
	w.socks.close()
	if w.eng != nil {
		putEngine(w.eng)
		w.eng = nil
	}
}
