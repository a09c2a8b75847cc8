package knx

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/tbgw/tbgw/codec/knx"
	"github.com/tbgw/tbgw/drivers/kit"
	"github.com/tbgw/tbgw/gw/connector"
)

func init() { connector.Register("knx", New) }

// Connector talks to a KNX installation through a KNXnet/IP gateway.
type Connector struct {
	env  connector.Env
	log  *slog.Logger
	plan *plan
	bus  *bus

	// Group address → the datapoints and device names it feeds.
	byGA map[knx.Group][]*device

	running    atomic.Bool
	connected  atomic.Bool
	dropped    atomic.Uint64
	reconnects atomic.Uint64

	// Telegrams heard between polls, converted, on their way to the sink.
	sinkP   atomic.Pointer[sinkBox]
	passive chan connector.Data
}

type sinkBox struct{ connector.Sink }

func (c *Connector) sink() connector.Sink {
	if b := c.sinkP.Load(); b != nil {
		return b.Sink
	}
	return nil
}

// queue hands data heard on the bus to the sender goroutine; it never
// blocks the link's reader.
func (c *Connector) queue(d connector.Data) {
	select {
	case c.passive <- d:
	default:
		c.dropped.Add(1)
	}
}

var (
	_ connector.Connector        = (*Connector)(nil)
	_ connector.AttributeHandler = (*Connector)(nil)
	_ connector.RPCHandler       = (*Connector)(nil)
)

// New is the connector.Factory of the "knx" type.
func New(config []byte, env connector.Env) (connector.Connector, error) {
	var cfg fileConfig
	doc, err := kit.Setup("knx", config, &env, &cfg)
	if err != nil {
		return nil, err
	}
	p, err := compile(doc, &cfg)
	if err != nil {
		return nil, kit.Errorf(env, err)
	}
	c := &Connector{env: env, log: env.Log, plan: p, byGA: map[knx.Group][]*device{}, passive: make(chan connector.Data, 256)}
	c.bus = newBus(p.rateGap, c.observe)
	for _, d := range p.devices {
		d.init()
		for ga := range d.addresses() {
			c.byGA[ga] = append(c.byGA[ga], d)
		}
	}
	return c, nil
}

// Stats reports telegram counters.
func (c *Connector) Stats() map[string]uint64 {
	up := uint64(0)
	if c.connected.Load() {
		up = 1
	}
	return map[string]uint64{"telegramsSent": c.bus.sent.Load(), "telegramsReceived": c.bus.received.Load(),
		"busConnected": up, "reconnects": c.reconnects.Load(), "dataRefusedStorage": c.dropped.Load()}
}

// Run connects to the bus (reconnecting as configured) and polls the
// devices until ctx ends. Every goroutine runs in one kit.Group.
func (c *Connector) Run(ctx context.Context, sink connector.Sink) error {
	c.running.Store(true)
	defer c.running.Store(false)
	c.sinkP.Store(&sinkBox{sink})
	defer c.sinkP.Store(nil)
	g, gctx := kit.NewGroup(ctx)
	for _, d := range c.plan.devices {
		g.Go("poll "+d.label(), func() error { c.pollLoop(gctx, sink, d); return nil })
	}
	g.Go("telegrams", func() error {
		for {
			select {
			case d := <-c.passive:
				if err := c.send(gctx, sink, d); err != nil && gctx.Err() == nil {
					c.log.Warn("knx: send", "device", d.Device, "err", err)
				}
			case <-gctx.Done():
				return nil
			}
		}
	})
	g.Go("link", func() error { return c.connectLoop(gctx, g) })
	err := g.Wait()
	var pe *kit.PanicError
	if ctx.Err() != nil && !errors.As(err, &pe) {
		return nil
	}
	return err
}

// connectLoop keeps a link up: connect, run until it fails, wait
// autoReconnectWait, again. Without autoReconnect a lost link ends Run
// with an error (the supervisor restarts the connector).
func (c *Connector) connectLoop(ctx context.Context, g *kit.Group) error {
	for {
		l, err := c.connect(ctx)
		if err == nil {
			c.log.Info("knx: connected", "link", l.String())
			c.connected.Store(true)
			c.bus.set(l)
			done := make(chan error, 1)
			g.Go("receive", func() error {
				err := kit.Protect("receive", l.run)
				done <- err
				var pe *kit.PanicError
				if errors.As(err, &pe) {
					return err
				}
				return nil
			})
			select {
			case err = <-done:
			case <-ctx.Done():
				l.close()
				<-done
				err = nil
			}
			c.bus.set(nil)
			c.connected.Store(false)
			l.close()
		}
		if ctx.Err() != nil {
			return nil
		}
		if err == nil {
			err = errors.New("link closed")
		}
		if !c.plan.reconnect {
			return err
		}
		c.reconnects.Add(1)
		c.log.Warn("knx: bus connection lost; reconnecting", "err", err, "in", c.plan.reconnWait)
		t := time.NewTimer(c.plan.reconnWait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil
		}
	}
}

func (c *Connector) connect(ctx context.Context) (link, error) {
	p := c.plan
	if p.mode == modeRouting {
		return dialRouter(c.log, p.local.Addr(), p.mcast, p.ia, c.bus.indication)
	}
	gw := p.gateway
	if p.scan || !gw.IsValid() {
		found, err := search(ctx, p.local.Addr(), p.mcast, p.scanPeriod, p.stopOnFound)
		if err != nil {
			return nil, err
		}
		for _, g := range found {
			c.log.Info("knx: found gateway", "name", g.Name, "address", g.Address.String(), "endpoint", g.Control.Addr.String(),
				"tunnelling", g.Tunnelling, "routing", g.Routing)
		}
		if !gw.IsValid() {
			for _, g := range found {
				if g.Tunnelling {
					gw = g.Control.Addr
					break
				}
			}
		}
		if !gw.IsValid() {
			if p.mode == modeAuto {
				for _, g := range found {
					if g.Routing {
						return dialRouter(c.log, p.local.Addr(), p.mcast, p.ia, c.bus.indication)
					}
				}
			}
			return nil, errors.New("no KNXnet/IP gateway found")
		}
	}
	return dialTunnel(ctx, c.log, p.local, gw, p.heartbeat, c.bus.indication)
}
