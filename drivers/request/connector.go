package request

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"

	"github.com/tbgw/tbgw/drivers/kit"
	"github.com/tbgw/tbgw/drivers/kit/poll"
	"github.com/tbgw/tbgw/gw/connector"
)

func init() { connector.Register("request", New) }

// Connector polls HTTP endpoints and makes the HTTP calls of attribute
// updates and RPCs.
type Connector struct {
	env  connector.Env
	log  *slog.Logger
	plan *plan
	live atomic.Bool

	polls, pollErrors, messages, bytesIn, downlinks, downlinkErrors atomic.Uint64
}

var (
	_ connector.Connector        = (*Connector)(nil)
	_ connector.AttributeHandler = (*Connector)(nil)
	_ connector.RPCHandler       = (*Connector)(nil)
	_ connector.Statser          = (*Connector)(nil)
)

// New is the connector.Factory of the "request" type.
func New(config []byte, env connector.Env) (connector.Connector, error) {
	var cfg fileConfig
	doc, err := kit.Setup("request", config, &env, &cfg)
	if err != nil {
		return nil, err
	}
	p, err := compile(doc, &cfg, env.ConfigDir, func(w string) { env.Log.Warn(w) })
	if err != nil {
		return nil, kit.Errorf(env, err)
	}
	return &Connector{env: env, log: env.Log, plan: p}, nil
}

// Run polls every mapping on its scanPeriod until ctx ends. At most
// "workers" requests are in flight; a mapping is polled again only after
// its previous poll ended.
func (c *Connector) Run(ctx context.Context, sink connector.Sink) error {
	g, ctx := kit.NewGroup(ctx)
	sender := kit.NewSender(sink, c.log)
	s := poll.New(poll.Options{Workers: c.plan.workers, Log: c.log})
	for _, e := range c.plan.endpoints {
		s.Add(poll.Job{Name: e.url, Period: e.period, NoEdges: true, Poll: func(ctx context.Context) error {
			return c.poll(ctx, e, sender)
		}})
	}
	if len(c.plan.endpoints) > 0 {
		g.Go("poll", func() error { return s.Run(ctx) })
	}
	c.live.Store(true)
	c.log.Info("request: started", "endpoints", len(c.plan.endpoints), "workers", c.plan.workers)
	<-ctx.Done()
	c.live.Store(false)
	err := g.Wait()
	c.closeIdle()
	return err
}

func (c *Connector) closeIdle() {
	c.plan.opts.Transports.CloseIdle()
	for _, e := range c.plan.endpoints {
		e.call.Close()
	}
	for _, a := range c.plan.attrs {
		a.Close()
	}
	for _, r := range c.plan.rpcs {
		r.Close()
	}
}

// Stats reports the connector's counters.
func (c *Connector) Stats() map[string]uint64 {
	return map[string]uint64{
		"polls":          c.polls.Load(),
		"pollErrors":     c.pollErrors.Load(),
		"messages":       c.messages.Load(),
		"bytesReceived":  c.bytesIn.Load(),
		"downlinks":      c.downlinks.Load(),
		"downlinkErrors": c.downlinkErrors.Load(),
	}
}

var errStopped = errors.New("request connector is not running")
