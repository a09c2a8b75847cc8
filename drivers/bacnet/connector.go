package bacnet

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/tbgw/tbgw/codec/bacnet"
	"github.com/tbgw/tbgw/drivers/kit"
	"github.com/tbgw/tbgw/drivers/kit/poll"
	"github.com/tbgw/tbgw/gw/connector"
)

func init() { connector.Register("bacnet", New) }

// Connector is a BACnet/IP client: it discovers the configured devices,
// polls their properties (ReadPropertyMultiple), subscribes to COV where
// configured and writes attribute updates and RPCs.
type Connector struct {
	env      connector.Env
	log      *slog.Logger
	plan     *plan
	counters kit.Counters

	// Set while Run is live.
	mu      sync.Mutex
	client  *client
	sched   *poll.Scheduler
	sender  *kit.Sender
	byKey   map[devKey]*device
	byName  map[string]*device
	running bool
	addr    atomic.Value // string: the bound address

	events   chan event
	cov      *covTable
	group    *kit.Group
	adding   map[devKey]bool // being added
	refused  map[devKey]bool // could not be added (told once)
	addSlots chan struct{}
}

type devKey struct {
	cfg      int
	instance uint32
}

// event is an unconfirmed request (or COV notification) from the reader.
type event struct {
	src peer
	a   bacnet.APDU
}

var (
	_ connector.Connector        = (*Connector)(nil)
	_ connector.AttributeHandler = (*Connector)(nil)
	_ connector.RPCHandler       = (*Connector)(nil)
	_ connector.SharedKeyser     = (*Connector)(nil)
)

// New is the connector.Factory of "bacnet": it validates the configuration
// without network I/O.
func New(raw []byte, env connector.Env) (connector.Connector, error) {
	var cfg fileConfig
	doc, err := kit.Setup("bacnet", raw, &env, &cfg)
	if err != nil {
		return nil, err
	}
	warn := func(w error) { env.Log.Warn(w.Error()) }
	p, err := compile(doc, &cfg, env.ConfigDir, warn)
	if err != nil {
		return nil, kit.Errorf(env, err)
	}
	return &Connector{env: env, log: env.Log, plan: p}, nil
}

// ListenAddr is the bound UDP address ("" until Run has bound it).
func (c *Connector) ListenAddr() string {
	s, _ := c.addr.Load().(string)
	return s
}

// Stats reports the connector's counters.
func (c *Connector) Stats() map[string]uint64 {
	m := c.counters.Stats()
	c.mu.Lock()
	cl := c.client
	m["devices"] = uint64(len(c.byKey))
	c.mu.Unlock()
	if cl != nil {
		m["datagramsSent"] = cl.sent.Load()
		m["datagramsReceived"] = cl.received.Load()
		m["datagramsDropped"] = cl.dropped.Load()
	}
	return m
}

// Run binds the BACnet/IP port and runs discovery, polling and COV until
// ctx ends.
func (c *Connector) Run(ctx context.Context, sink connector.Sink) error {
	conn, bconn, err := listen(c.plan)
	if err != nil {
		return err
	}
	cl := newClient(conn, c.log, c.plan)
	cl.foreign = c.plan.foreign
	events := make(chan event, 256)
	cl.handler = func(src peer, a bacnet.APDU) {
		select {
		case events <- event{src, a}:
		default:
			c.counters.Add("eventsDropped", 1)
		}
	}
	cl.server = c.serveOwn
	sender := kit.NewSender(sink, c.log)
	sched := poll.New(poll.Options{Workers: c.plan.workers, Sink: sink, Log: c.log, MaxBackoff: time.Minute})

	c.mu.Lock()
	c.client, c.sched, c.sender, c.events = cl, sched, sender, events
	c.byKey, c.byName = map[devKey]*device{}, map[string]*device{}
	c.adding, c.refused = map[devKey]bool{}, map[devKey]bool{}
	c.addSlots = make(chan struct{}, 4)
	c.cov = newCOVTable()
	c.running = true
	c.mu.Unlock()
	c.addr.Store(conn.LocalAddr().String())
	defer func() {
		c.mu.Lock()
		c.running = false
		c.mu.Unlock()
		c.addr.Store("")
	}()

	g, gctx := kit.NewGroup(ctx)
	c.mu.Lock()
	c.group = g
	c.mu.Unlock()
	g.Go("bacnet close", func() error {
		<-gctx.Done()
		c.cancelCOV(cl)
		conn.Close()
		if bconn != nil {
			bconn.Close()
		}
		return nil
	})
	g.Go("bacnet read", func() error { return cl.read(gctx, conn) })
	if bconn != nil {
		g.Go("bacnet read broadcast", func() error { return cl.read(gctx, bconn) })
	}
	g.Go("bacnet poll", func() error { return sched.Run(gctx) })
	g.Go("bacnet events", func() error { return c.handleEvents(gctx, events) })
	g.Go("bacnet discovery", func() error { return c.discover(gctx) })
	g.Go("bacnet cov", func() error { return c.renewCOV(gctx) })
	c.log.Info("bacnet: started", "address", conn.LocalAddr().String(), "devices", len(c.plan.devices),
		"foreignDevice", c.plan.foreign.IsValid())
	err = g.Wait()
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// listen binds the configured address and, when that is a unicast
// address, the local broadcast address on the same port too (Linux does
// not deliver broadcasts to a socket bound to a unicast address).
func listen(p *plan) (*net.UDPConn, *net.UDPConn, error) {
	lc := net.ListenConfig{Control: reuseAddr}
	pc, err := lc.ListenPacket(context.Background(), "udp4", p.bind.String())
	if err != nil {
		return nil, nil, fmt.Errorf("bind %s: %w", p.bind, err)
	}
	conn := pc.(*net.UDPConn)
	if p.bind.Addr().IsUnspecified() || p.broadcast == p.bind.Addr() {
		return conn, nil, nil
	}
	port := conn.LocalAddr().(*net.UDPAddr).Port
	bpc, err := lc.ListenPacket(context.Background(), "udp4", netip.AddrPortFrom(p.broadcast, uint16(port)).String())
	if err != nil {
		return conn, nil, nil // no broadcast reception (e.g. no such interface): unicast still works
	}
	return conn, bpc.(*net.UDPConn), nil
}

func reuseAddr(network, address string, rc syscall.RawConn) error {
	var serr error
	err := rc.Control(func(fd uintptr) {
		serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_REUSEADDR, 1)
	})
	if err != nil {
		return err
	}
	return serr
}

// running reports whether Run is live and returns its client.
func (c *Connector) live() (*client, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.client, c.running
}

// handleEvents processes I-Am announcements and COV notifications.
func (c *Connector) handleEvents(ctx context.Context, events <-chan event) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev := <-events:
			switch {
			case ev.a.Type == bacnet.PDUUnconfirmedRequest && ev.a.Service == bacnet.ServiceIAm:
				c.onIAm(ctx, ev.src, ev.a.ServiceData)
			case ev.a.Type == bacnet.PDUUnconfirmedRequest && ev.a.Service == bacnet.ServiceWhoIs:
				c.answerWhoIs(ev.src, ev.a.ServiceData)
			case ev.a.Type == bacnet.PDUUnconfirmedRequest && ev.a.Service == bacnet.ServiceUnconfirmedCOVNotification,
				ev.a.Type == bacnet.PDUConfirmedRequest && ev.a.Service == bacnet.ServiceConfirmedCOVNotification:
				c.onCOV(ctx, ev.src, ev.a.ServiceData)
			}
		}
	}
}

// errNotRunning answers downlink while Run is not live.
var errNotRunning = errors.New("bacnet connector is not running")
