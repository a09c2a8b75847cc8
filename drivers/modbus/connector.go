package modbus

import (
	"context"
	"log/slog"
	"sync/atomic"

	"github.com/tbgw/tbgw/drivers/kit"
	"github.com/tbgw/tbgw/drivers/kit/poll"
	"github.com/tbgw/tbgw/gw/connector"
)

func init() { connector.Register("modbus", New) }

// Connector polls Modbus devices (master) and optionally serves registers
// (the slave section).
type Connector struct {
	env     connector.Env
	log     *slog.Logger
	plan    *plan
	masters map[string]*master
	devices []*device
	byName  map[string]*device

	running atomic.Bool
	sched   atomic.Pointer[poll.Scheduler] // of the current Run
}

var (
	_ connector.Connector        = (*Connector)(nil)
	_ connector.AttributeHandler = (*Connector)(nil)
	_ connector.RPCHandler       = (*Connector)(nil)
	_ connector.SharedKeyser     = (*Connector)(nil)
)

// New is the connector.Factory of the "modbus" type: it parses and
// validates config without network I/O.
func New(config []byte, env connector.Env) (connector.Connector, error) {
	var cfg fileConfig
	doc, err := kit.Setup("modbus", config, &env, &cfg)
	if err != nil {
		return nil, err
	}
	log := env.Log
	warn := func(w error) { log.Warn(w.Error()) }
	note := func(w error) { log.Info(w.Error()) }
	skip := func(err error) error { return kit.Skip(env, err) }
	p, err := compile(doc, &cfg, env.ConfigDir, warn, note, skip)
	if err != nil {
		return nil, kit.Errorf(env, err)
	}
	if cfg.Slave != nil && !cfg.Slave.SendDataToThingsBoard {
		log.Info("slave section has sendDataToThingsBoard false; as upstream, the server is not started")
	}
	c := &Connector{env: env, log: log, plan: p, masters: map[string]*master{}, byName: map[string]*device{}}
	for _, def := range p.slaves {
		m := c.masters[def.link.key]
		if m == nil {
			var st *store
			if def.local {
				st = p.server.store
			}
			m = newMaster(def.link, log, st)
			c.masters[def.link.key] = m
		}
		d := newDevice(def, m, log, env.Now)
		c.devices = append(c.devices, d)
		if _, dup := c.byName[def.name]; dup {
			warn(doc.Errorf(def.path+".deviceName", "device name %q used twice; downlink goes to the first", def.name))
			continue
		}
		c.byName[def.name] = d
	}
	if p.server != nil {
		local := p.slaves[len(p.slaves)-1].name
		p.server.store.onWrite = func() {
			// A master wrote to the served registers: report them soon.
			if s := c.sched.Load(); s != nil {
				s.Kick(local)
			}
		}
	}
	return c, nil
}

// Run serves the slave section (when configured) and polls every device
// until ctx is cancelled.
func (c *Connector) Run(ctx context.Context, sink connector.Sink) error {
	g, ctx := kit.NewGroup(ctx)
	c.running.Store(true)
	defer c.closeMasters()
	defer c.running.Store(false)
	if srv := c.plan.server; srv != nil {
		if err := srv.start(ctx, g, c.log); err != nil {
			g.Wait()
			return err
		}
	}
	out := kit.NewSender(sink, c.log)
	var polled []*device
	for _, d := range c.devices {
		if d.polled() {
			polled = append(polled, d)
		}
	}
	// Requests on one connection go out one at a time anyway (master);
	// workers let different connections proceed side by side.
	s := poll.New(poll.Options{Workers: min(len(polled), maxPollWorkers), Sink: sink, Log: c.log, AnnounceDown: true})
	for _, d := range polled {
		s.Add(poll.Job{Name: d.def.name, Type: d.def.typ, Period: d.def.poll, NoBackoff: true,
			Poll: func(ctx context.Context) error { return d.poll(ctx, out) }})
	}
	c.sched.Store(s)
	defer c.sched.Store(nil)
	if len(polled) > 0 {
		g.Go("modbus poll", func() error { return s.Run(ctx) })
	}
	c.log.Info("started", "devices", len(c.devices), "polled", len(polled), "connections", len(c.masters))
	<-ctx.Done()
	return g.Wait()
}

// maxPollWorkers bounds the polls in progress at once.
const maxPollWorkers = 64

// Stats reports the connector's own counters.
func (c *Connector) Stats() map[string]uint64 {
	return map[string]uint64{"requests": uint64(c.Requests())}
}

// idleClose closes the connections a downlink opened while the connector
// is not running (Run closes them otherwise).
func (c *Connector) idleClose() {
	if !c.running.Load() {
		c.closeMasters()
	}
}

func (c *Connector) closeMasters() {
	for _, m := range c.masters {
		m.close()
	}
}

// SharedAttributeKeys lists the attributeUpdates tags of device.
func (c *Connector) SharedAttributeKeys(device string) []string {
	d := c.byName[device]
	if d == nil {
		return nil
	}
	keys := make([]string, 0, len(d.def.writes))
	for _, t := range d.def.writes {
		keys = append(keys, t.Key)
	}
	return keys
}

// Requests returns the number of requests sent so far on all connections
// (for benchmarks).
func (c *Connector) Requests() int64 {
	var n int64
	for _, m := range c.masters {
		n += m.requestCount()
	}
	return n
}
