package snmp

import (
	"container/heap"
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tbgw/tbgw/codec/conf"
	"github.com/tbgw/tbgw/gw/connector"
)

func init() { connector.Register("snmp", New) }

// Connector polls SNMP agents, receives their traps and writes to them.
type Connector struct {
	env    connector.Env
	log    *slog.Logger
	plan   *plan
	byName map[string]*device // first device of each name (downlink target)

	mu      sync.Mutex
	upCount map[string]int // devices of a name that answer

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
	log := env.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if env.Now == nil {
		env.Now = time.Now
	}
	name := env.Name
	if name == "" {
		name = "snmp"
	}
	file := env.File
	if file == "" {
		file = name + ".json"
	}
	doc, err := conf.Parse(file, config)
	if err != nil {
		return nil, fmt.Errorf("snmp connector %q: %w", name, err)
	}
	var cfg fileConfig
	warns, err := doc.Decode(&cfg)
	if err != nil {
		return nil, fmt.Errorf("snmp connector %q: %w", name, err)
	}
	warn := func(w error) { log.Warn("" + w.Error()) }
	for _, w := range warns {
		warn(w)
	}
	p, err := compile(doc, &cfg, warn)
	if err != nil {
		return nil, fmt.Errorf("snmp connector %q: %w", name, err)
	}
	c := &Connector{env: env, log: log, plan: p, byName: map[string]*device{}, upCount: map[string]int{}}
	for _, d := range p.devices {
		d.init()
		if _, dup := c.byName[d.name]; !dup {
			c.byName[d.name] = d
		}
	}
	return c, nil
}

// Run polls every device on its own schedule with a bounded pool of
// workers and, when configured, receives traps, until ctx is cancelled.
func (c *Connector) Run(ctx context.Context, sink connector.Sink) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	jobs := make(chan *device)
	// Every device is in at most one place (heap, a worker, this buffer),
	// so a worker never blocks handing one back.
	done := make(chan *device, len(c.plan.devices))
	polled := 0
	for _, d := range c.plan.devices {
		if d.scheduled() {
			polled++
		}
	}
	for range min(c.plan.workers, polled) {
		wg.Go(func() { c.worker(ctx, sink, jobs, done) })
	}
	if c.plan.traps != nil {
		wg.Go(func() { c.receiveTraps(ctx, sink) })
	}
	c.log.Info("started", "devices", len(c.plan.devices), "workers", min(c.plan.workers, polled),
		"traps", c.plan.traps != nil)
	if polled > 0 {
		c.schedule(ctx, jobs, done)
	}
	<-ctx.Done()
	wg.Wait()
	return nil
}

// schedule hands due devices to the workers, earliest first, until ctx
// ends. A device is handed out again only after its poll finished, so a
// slow agent holds one worker and never piles up.
func (c *Connector) schedule(ctx context.Context, jobs chan<- *device, done <-chan *device) {
	var h dueHeap
	now := time.Now()
	for _, d := range c.plan.devices {
		if d.scheduled() {
			d.next = now
			heap.Push(&h, d)
		}
	}
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		var out chan<- *device
		var head *device
		if len(h) > 0 {
			head = h[0]
			if wait := time.Until(head.next); wait > 0 {
				timer.Reset(wait)
			} else {
				out = jobs
			}
		}
		select {
		case out <- head:
			heap.Pop(&h)
		case d := <-done:
			heap.Push(&h, d)
		case <-timer.C:
		case <-ctx.Done():
			return
		}
	}
}

// worker is what a polling goroutine owns: its sockets and its engine.
type worker struct {
	socks sockets
	eng   *engine
}

func (c *Connector) worker(ctx context.Context, sink connector.Sink, jobs <-chan *device, done chan<- *device) {
	w := &worker{}
	stop := context.AfterFunc(ctx, w.socks.stop)
	defer func() {
		stop()
		w.socks.close()
		if w.eng != nil {
			putEngine(w.eng)
		}
	}()
	for {
		select {
		case d := <-jobs:
			if w.eng == nil {
				e, err := getEngine()
				if err != nil {
					c.log.Error("worker", "err", err)
					done <- d
					continue
				}
				w.eng = e
			}
			c.poll(ctx, sink, w, d)
			done <- d
		case <-ctx.Done():
			return
		}
	}
}

// dueHeap orders devices by the time they are due.
type dueHeap []*device

func (h dueHeap) Len() int           { return len(h) }
func (h dueHeap) Less(i, j int) bool { return h[i].next.Before(h[j].next) }
func (h dueHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].heapIdx, h[j].heapIdx = i, j
}
func (h *dueHeap) Push(x any) {
	d := x.(*device)
	d.heapIdx = len(*h)
	*h = append(*h, d)
}
func (h *dueHeap) Pop() any {
	old := *h
	d := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return d
}

// setUp records that a device answers (or stopped answering) and tells the
// gateway when the first agent of a device name comes up or the last one
// goes away.
func (c *Connector) setUp(ctx context.Context, sink connector.Sink, d *device, up bool) {
	c.mu.Lock()
	n := c.upCount[d.name]
	if up {
		n++
	} else {
		n--
	}
	c.upCount[d.name] = n
	c.mu.Unlock()
	switch {
	case up && n == 1:
		if err := sink.Connect(ctx, d.name, d.typ); err != nil {
			c.log.Debug("connect not announced", "device", d.name, "err", err)
		}
	case !up && n == 0:
		if err := sink.Disconnect(ctx, d.name); err != nil {
			c.log.Debug("disconnect not announced", "device", d.name, "err", err)
		}
	}
}
