package modbus

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tbgw/tbgw/codec/conf"
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
	log := env.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if env.Now == nil {
		env.Now = time.Now
	}
	file := env.File
	if file == "" {
		file = env.Name
	}
	if file == "" {
		file = "modbus"
	}
	doc, err := conf.Parse(file, config)
	if err != nil {
		return nil, fmt.Errorf("modbus: %w", err)
	}
	var cfg fileConfig
	warns, err := doc.Decode(&cfg)
	if err != nil {
		return nil, fmt.Errorf("modbus: %w", err)
	}
	warn := func(w error) { log.Warn("modbus: " + w.Error()) }
	for _, w := range warns {
		warn(w)
	}
	note := func(w error) { log.Info("modbus: " + w.Error()) }
	p, err := compile(doc, &cfg, env.ConfigDir, warn, note)
	if err != nil {
		return nil, fmt.Errorf("modbus: %w", err)
	}
	if cfg.Slave != nil && !cfg.Slave.SendDataToThingsBoard {
		log.Info("modbus: slave section has sendDataToThingsBoard false; as upstream, the server is not started")
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
		local := c.byName[p.slaves[len(p.slaves)-1].name]
		p.server.store.onWrite = func() {
			if local != nil {
				select {
				case local.wake <- struct{}{}:
				default:
				}
			}
		}
	}
	return c, nil
}

// Run serves the slave section (when configured) and polls every device
// until ctx is cancelled.
func (c *Connector) Run(ctx context.Context, sink connector.Sink) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	c.running.Store(true)
	defer c.closeMasters()
	defer c.running.Store(false)
	if srv := c.plan.server; srv != nil {
		wait, err := srv.start(ctx, c.log)
		if err != nil {
			return fmt.Errorf("modbus: %w", err)
		}
		defer wait()
	}
	polled := 0
	for _, d := range c.devices {
		if d.polled() {
			polled++
			wg.Go(func() { d.run(ctx, sink) })
		}
	}
	c.log.Info("modbus: started", "devices", len(c.devices), "polled", polled, "connections", len(c.masters))
	<-ctx.Done()
	wg.Wait()
	return nil
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
