package mqtt

import (
	"context"
	"crypto/rand"
	"errors"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tbgw/tbgw/drivers/kit"
	"github.com/tbgw/tbgw/drivers/kit/backoff"
	"github.com/tbgw/tbgw/gw/connector"
)

func init() {
	connector.Register("mqtt", New)
}

// Connector is a running MQTT connector: one client of the device broker.
type Connector struct {
	env  connector.Env
	log  *slog.Logger
	plan *plan
	dial dialOptions

	// run is the state of the current Run, nil between runs.
	run atomic.Pointer[runState]

	stats Stats
}

// Stats are the connector's counters since it was built.
type Stats struct {
	Received    atomic.Int64 // messages from the device broker
	Converted   atomic.Int64 // messages that produced data
	Datapoints  atomic.Int64 // attributes and time series values stored
	Malformed   atomic.Int64 // messages a converter rejected
	Unmatched   atomic.Int64 // messages no mapping or request took
	StoreErrors atomic.Int64 // failed Sink.Send calls (retried)
	Connects    atomic.Int64 // sessions established with the broker
	ConnectErrs atomic.Int64 // failed connection attempts
}

var (
	_ connector.Connector        = (*Connector)(nil)
	_ connector.AttributeHandler = (*Connector)(nil)
	_ connector.RPCHandler       = (*Connector)(nil)
)

// New is the connector.Factory of type "mqtt".
func New(raw []byte, env connector.Env) (connector.Connector, error) {
	return newConnector(raw, env)
}

func newConnector(raw []byte, env connector.Env) (*Connector, error) {
	var cfg config
	doc, err := kit.Setup("mqtt", emptyObjectsToLists(raw), &env, &cfg)
	if err != nil {
		return nil, err
	}
	for _, w := range dataKeyWarnings(doc, &cfg) {
		env.Log.Warn(w.Error())
	}
	p, err := compile(&cfg, doc, envLike{Log: env.Log, ConfigDir: env.ConfigDir, Strict: env.Strict})
	if err != nil {
		return nil, kit.Errorf(env, err)
	}
	tc, err := tlsConfig(&cfg.Broker.Security, cfg.Broker.Host, env.ConfigDir)
	if err != nil {
		return nil, kit.Errorf(env, doc.Errorf("broker.security", "%v", err))
	}
	c := &Connector{env: env, log: env.Log, plan: p}
	b := &cfg.Broker
	c.dial = dialOptions{
		addr:           net.JoinHostPort(b.Host, strconv.Itoa(p.port)),
		clientID:       b.ClientID,
		version:        p.version,
		keepAlive:      p.keepAlive,
		cleanSession:   p.clean,
		sessionExpiry:  uint32(b.SessionExpiryInterval),
		username:       b.Security.Username,
		password:       b.Security.Password,
		hasUser:        b.Security.Username != "",
		tls:            tc,
		inflight:       p.queue,
		connectTimeout: 5 * time.Second,
	}
	if c.dial.clientID == "" {
		c.dial.clientID = randomClientID()
	}
	return c, nil
}

// randomClientID makes a 23-letter client id, as upstream does when none
// is configured.
func randomClientID() string {
	var b [23]byte
	_, _ = rand.Read(b[:])
	for i := range b {
		b[i] = 'a' + b[i]%26
	}
	return string(b[:])
}

// Connected reports whether the connector is connected to the device
// broker and has made its subscriptions.
func (c *Connector) Connected() bool {
	r := c.run.Load()
	return r != nil && r.ready.Load()
}

// Counters returns the connector's counters.
func (c *Connector) Counters() *Stats { return &c.stats }

// Stats reports the counters with the gateway's statistics.
func (c *Connector) Stats() map[string]uint64 {
	s := &c.stats
	return map[string]uint64{
		"messagesReceived": uint64(s.Received.Load()), "messagesConverted": uint64(s.Converted.Load()),
		"malformed": uint64(s.Malformed.Load()), "unmatched": uint64(s.Unmatched.Load()),
		"storeErrors": uint64(s.StoreErrors.Load()), "brokerConnects": uint64(s.Connects.Load()),
		"brokerConnectErrors": uint64(s.ConnectErrs.Load()),
	}
}

// runState is everything that lives for one Run.
type runState struct {
	c    *Connector
	sink connector.Sink
	ctx  context.Context

	stopping chan struct{} // closed when Run starts shutting down
	shards   []chan inbound
	requests chan inbound

	mu   sync.Mutex
	sess session // nil while disconnected
	// ready is set once a session is up and subscribed.
	ready atomic.Bool

	rpc rpcWaiters

	attrSem chan struct{} // bounds concurrent attribute requests
	// Read bursts: reads.pubs counts the PUBLISH packets read from the
	// socket, routed those onMessage handled; a worker stores once every
	// message read so far reached it.
	reads  readStats
	routed atomic.Uint64
	// pending counts messages queued to or held by the workers. While
	// none is, onMessage chooses how to route what comes next: while
	// messages trickle in (small reads), all to the first worker (a read
	// burst is one Send, one commit); otherwise by topic over all of
	// them.
	pending atomic.Int64
	single  atomic.Bool

	logMu      sync.Mutex
	lastMalLog time.Time
	suppressed int
}

// Run connects to the device broker and serves it until ctx is cancelled.
func (c *Connector) Run(ctx context.Context, sink connector.Sink) error {
	r := &runState{
		c: c, sink: sink, ctx: ctx,
		stopping: make(chan struct{}),
		requests: make(chan inbound, 256),
		attrSem:  make(chan struct{}, 8),
	}
	r.rpc.init()
	per := max(c.plan.queue/c.plan.workers, 1)
	for range c.plan.workers {
		r.shards = append(r.shards, make(chan inbound, per))
	}
	if !c.run.CompareAndSwap(nil, r) {
		return errors.New("Run called while already running")
	}
	defer c.run.Store(nil)

	// A panic in a worker cancels the group's context, which ends the
	// connect loop, and comes back from Wait as the error of this run.
	g, gctx := kit.NewGroup(ctx)
	r.ctx = gctx
	for i := range r.shards {
		g.Go("mqtt worker", func() error { r.worker(r.shards[i], i == 0); return nil })
	}
	g.Go("mqtt requests", func() error { r.requestLoop(); return nil })

	r.connectLoop()

	close(r.stopping)
	err := g.Wait()
	// Closed only now, so that the workers' acknowledgements of data they
	// stored reach the broker before the DISCONNECT.
	if s := r.session(); s != nil {
		r.setSession(nil)
		s.close()
	}
	return err
}

// connectLoop keeps a session to the broker until ctx ends.
func (r *runState) connectLoop() {
	c := r.c
	opts := c.dial
	opts.onMessage = r.onMessage
	opts.window = readLinger
	if w, ok := r.sink.(connector.Windower); ok {
		opts.window = w.Window()
	}
	opts.reads = &r.reads
	b := backoff.Policy{Min: time.Second, Max: 30 * time.Second}.New()
	for r.ctx.Err() == nil {
		// The previous session is closed: what it read and did not
		// hand over never will be.
		r.reads.pubs.Store(r.routed.Load())
		s, err := dial(r.ctx, opts)
		if err != nil {
			if r.ctx.Err() != nil {
				return
			}
			c.stats.ConnectErrs.Add(1)
			d := b.Next()
			c.log.Error("cannot connect to broker", "broker", opts.addr, "err", err, "retry_in", d.Round(time.Millisecond))
			if backoff.Sleep(r.ctx, d) != nil {
				return
			}
			continue
		}
		c.log.Info("connected to broker", "broker", opts.addr, "client_id", opts.clientID, "version", opts.version)
		r.setSession(s)
		r.subscribeAll(s)
		r.ready.Store(true)
		c.stats.Connects.Add(1)
		select {
		case <-s.done():
			c.log.Warn("connection to broker lost", "broker", opts.addr, "err", s.err())
			b.Reset()
		case <-r.ctx.Done():
			return // Run closes the session after the workers are done
		}
		r.setSession(nil)
		s.close()
		if backoff.Sleep(r.ctx, b.Next()) != nil {
			return
		}
	}
}

func (r *runState) setSession(s session) {
	r.mu.Lock()
	r.sess = s
	r.mu.Unlock()
	if s == nil {
		r.ready.Store(false)
	}
}

func (r *runState) session() session {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.sess
}

// subscribeAll makes the configured subscriptions and the response
// subscriptions of RPCs in progress.
func (r *runState) subscribeAll(s session) {
	ctx, cancel := context.WithTimeout(r.ctx, 30*time.Second)
	defer cancel()
	subs := append([]subscription(nil), r.c.plan.subs...)
	subs = append(subs, r.rpc.topics()...)
	for _, sub := range subs {
		if err := s.subscribe(ctx, sub.filter, sub.qos); err != nil {
			if r.ctx.Err() != nil {
				return // stopping: not an error of the broker's
			}
			r.c.log.Error("subscribe failed", "topic", sub.filter, "err", err)
			continue
		}
		r.c.log.Debug("subscribed", "topic", sub.filter, "qos", sub.qos)
	}
}

// publish sends to the device broker over the current session.
func (r *runState) publish(ctx context.Context, topic string, qos byte, retain bool, payload []byte) error {
	s := r.session()
	if s == nil {
		return errNotConnected
	}
	return s.publish(ctx, topic, qos, retain, payload)
}
