package can

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"

	"github.com/tbgw/tbgw/drivers/can/socketcan"
	"github.com/tbgw/tbgw/drivers/kit"
	"github.com/tbgw/tbgw/drivers/kit/backoff"
	"github.com/tbgw/tbgw/gw/connector"
)

func init() { connector.Register("can", New) }

// readBatch is how many frames one wake-up takes off the socket at most.
const readBatch = 64

// readBuffer is the socket's receive buffer: about 2500 frames, a third
// of a second of a saturated 1 Mbit/s bus, so a busy moment of the
// gateway does not lose frames.
const readBuffer = 512 << 10

// Connector is one configured CAN bus.
type Connector struct {
	env   connector.Env
	log   *slog.Logger
	plan  *plan
	conn  atomic.Pointer[socketcan.Conn] // nil while not connected
	stats kit.Counters
}

var (
	_ connector.Connector        = (*Connector)(nil)
	_ connector.AttributeHandler = (*Connector)(nil)
	_ connector.RPCHandler       = (*Connector)(nil)
	_ connector.Statser          = (*Connector)(nil)
)

// New is the connector.Factory of the "can" type. It validates the
// configuration and opens nothing.
func New(raw []byte, env connector.Env) (connector.Connector, error) {
	var cfg Config
	doc, err := kit.Setup("can", raw, &env, &cfg)
	if err != nil {
		return nil, err
	}
	p, err := compile(doc, &cfg, env.Log)
	if err != nil {
		return nil, kit.Errorf(env, err)
	}
	if len(p.filters) > socketcan.MaxFilters {
		env.Log.Info(fmt.Sprintf("%d identifiers exceed the kernel's %d receive filters: every frame is read and filtered here", len(p.filters), socketcan.MaxFilters))
	}
	return &Connector{env: env, log: env.Log, plan: p}, nil
}

// Stats reports frame and error counters.
func (c *Connector) Stats() map[string]uint64 { return c.stats.Stats() }

// Run reads the bus until ctx ends, reconnecting as configured.
func (c *Connector) Run(ctx context.Context, sink connector.Sink) error {
	g, ctx := kit.NewGroup(ctx)
	sender := kit.NewSender(sink, c.log)
	g.Go("can bus", func() error { return c.loop(ctx, sink, sender) })
	return g.Wait()
}

// loop runs sessions; after a failure it waits reconnectPeriod, at most
// reconnectCount times in a row (a session that connected starts the
// count again).
func (c *Connector) loop(ctx context.Context, sink connector.Sink, sender *kit.Sender) error {
	b := c.plan.retry.New()
	for {
		connected, err := c.session(ctx, sink, sender)
		if ctx.Err() != nil {
			return nil
		}
		if connected {
			b.Reset()
			for _, d := range c.plan.devices {
				_ = sink.Disconnect(ctx, d.name)
			}
		}
		c.stats.Add("busErrors", 1)
		if !c.plan.retryOn {
			return fmt.Errorf("%s: %w (reconnect is off)", c.plan.channel, err)
		}
		if max := c.plan.retry.MaxTries; max > 0 && b.Attempts()+1 >= max {
			return fmt.Errorf("%s: %w (gave up after %d reconnect attempts)", c.plan.channel, err, max-1)
		}
		d := b.Next()
		c.log.Warn("CAN bus unavailable; reconnecting", "channel", c.plan.channel, "err", err, "in", d)
		if backoff.Sleep(ctx, d) != nil {
			return nil
		}
		c.stats.Add("reconnects", 1)
	}
}

// session opens the bus, starts polling and reads until an error.
// connected reports whether the bus was opened.
func (c *Connector) session(ctx context.Context, sink connector.Sink, sender *kit.Sender) (connected bool, err error) {
	p := c.plan
	conn, err := socketcan.Open(p.channel, socketcan.Options{
		FD: p.fd, Filters: p.filters, ErrorFrames: true, ReceiveOwn: p.recvOwn, ReadBuffer: readBuffer,
	})
	if err != nil {
		return false, err
	}
	defer conn.Close()
	var periodic []*socketcan.Periodic
	defer func() {
		for _, x := range periodic {
			x.Close()
		}
	}()
	for i := range p.polls {
		pl := &p.polls[i]
		if pl.once {
			if err := conn.Write(ctx, &pl.frame); err != nil {
				return false, fmt.Errorf("polling %q once: %w", pl.key, err)
			}
			c.stats.Add("framesSent", 1)
			continue
		}
		x, err := socketcan.StartPeriodic(p.channel, pl.frame, pl.period)
		if err != nil {
			return false, fmt.Errorf("polling %q every %v: %w", pl.key, pl.period, err)
		}
		periodic = append(periodic, x)
	}
	c.conn.Store(conn)
	defer c.conn.CompareAndSwap(conn, nil)
	for _, d := range p.devices {
		if err := sink.Connect(ctx, d.name, d.typ); err != nil && ctx.Err() != nil {
			return true, ctx.Err()
		}
	}
	c.log.Info("connected to CAN bus", "channel", p.channel, "fd", p.fd, "filters", len(p.filters), "polls", len(p.polls))
	frames := make([]socketcan.Frame, readBatch)
	conv := newConverter(c)
	var dropped uint64
	for {
		n, err := conn.Read(ctx, frames)
		if err != nil {
			return true, err
		}
		if d := conn.Dropped(); d != dropped {
			if dropped == 0 {
				c.log.Warn("frames arrive faster than the gateway reads them; the kernel drops the excess (counted in framesDropped)", "channel", p.channel)
			}
			c.stats.Add("framesDropped", d-dropped)
			dropped = d
		}
		batch := conv.convert(frames[:n])
		if len(batch) == 0 {
			continue
		}
		if err := sender.Send(ctx, batch); err != nil {
			if errors.Is(err, connector.ErrStopping) {
				return true, nil
			}
			return true, err
		}
	}
}
