package socket

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/tbgw/tbgw/drivers/kit"
	"github.com/tbgw/tbgw/drivers/kit/backoff"
	"github.com/tbgw/tbgw/drivers/kit/quietsock"
	"github.com/tbgw/tbgw/gw/connector"
)

func init() { connector.Register("socket", New) }

// Connector receives device messages over TCP or UDP, as a server or as a
// client of a device server, and writes attribute updates and RPCs back.
type Connector struct {
	env  connector.Env
	log  *slog.Logger
	plan *plan
	live atomic.Bool
	addr atomic.Value // string

	mu    sync.Mutex
	conns map[string]*peerConn // TCP connections by remote address
	udp   net.PacketConn       // the UDP socket (server)
	udpc  *net.UDPConn         // the UDP socket (client)
	peers map[*device]string   // where each device last spoke from

	messages, bytesIn, connections, frameErrors, convErrors, downlinks, downlinkErrors atomic.Uint64
}

type peerConn struct {
	c   net.Conn
	wmu sync.Mutex
}

var (
	_ connector.Connector        = (*Connector)(nil)
	_ connector.AttributeHandler = (*Connector)(nil)
	_ connector.RPCHandler       = (*Connector)(nil)
	_ connector.Statser          = (*Connector)(nil)
	_ connector.Listener         = (*Connector)(nil)
)

// New is the connector.Factory of the "socket" type.
func New(config []byte, env connector.Env) (connector.Connector, error) {
	var cfg fileConfig
	doc, err := kit.Setup("socket", config, &env, &cfg)
	if err != nil {
		return nil, err
	}
	p, err := compile(doc, &cfg)
	if err != nil {
		return nil, kit.Errorf(env, err)
	}
	if cfg.Socket == nil {
		env.Log.Warn("socket: old configuration layout (no \"socket\" block), read as the new one")
	}
	c := &Connector{env: env, log: env.Log, plan: p}
	c.addr.Store("")
	return c, nil
}

// ListenAddr is the server's address ("" until listening, and in client
// mode).
func (c *Connector) ListenAddr() string { return c.addr.Load().(string) }

// Run serves (or, in client mode, keeps a connection to) the socket until
// ctx ends.
func (c *Connector) Run(ctx context.Context, sink connector.Sink) error {
	c.mu.Lock()
	c.conns, c.peers = map[string]*peerConn{}, map[*device]string{}
	c.mu.Unlock()
	g, ctx := kit.NewGroup(ctx)
	h := &handler{c: c, sink: sink, sender: kit.NewSender(sink, c.log)}
	var closers []io.Closer
	switch {
	case c.plan.client:
		g.Go("client", func() error { return c.client(ctx, g, h) })
	case c.plan.udp:
		pc, err := net.ListenPacket("udp", c.plan.addr)
		if err != nil {
			return err
		}
		c.mu.Lock()
		c.udp = pc
		c.mu.Unlock()
		closers = append(closers, pc)
		c.addr.Store(pc.LocalAddr().String())
		g.Go("udp", func() error { return c.serveUDP(ctx, g, pc, h) })
	default:
		ln, err := net.Listen("tcp", c.plan.addr)
		if err != nil {
			return err
		}
		closers = append(closers, ln)
		c.addr.Store(ln.Addr().String())
		g.Go("accept", func() error { return c.accept(ctx, g, ln, h) })
	}
	c.live.Store(true)
	c.log.Info("socket: started", "addr", c.plan.addr, "udp", c.plan.udp, "client", c.plan.client, "devices", len(c.plan.devices))
	<-ctx.Done()
	c.live.Store(false)
	for _, cl := range closers {
		cl.Close()
	}
	c.closeConns()
	err := g.Wait()
	c.addr.Store("")
	c.mu.Lock()
	c.udp, c.udpc = nil, nil
	c.mu.Unlock()
	return err
}

func (c *Connector) closeConns() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, pc := range c.conns {
		pc.c.Close()
	}
	if c.udpc != nil {
		c.udpc.Close()
	}
}

func (c *Connector) accept(ctx context.Context, g *kit.Group, ln net.Listener, h *handler) error {
	// At most maxConns connections are served; further clients wait in
	// the kernel's backlog until one ends.
	slots := make(chan struct{}, c.plan.maxConns)
	for {
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			return nil
		}
		conn, err := ln.Accept()
		if err != nil {
			<-slots
			if ctx.Err() != nil {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return err
		}
		conn = quietsock.Wrap(conn)
		c.connections.Add(1)
		g.Go("connection "+conn.RemoteAddr().String(), func() error {
			defer func() { <-slots }()
			c.serveConn(ctx, conn, h)
			return nil
		})
	}
}

// serveConn reads the messages of one TCP connection until it ends, is
// idle too long or ctx ends.
func (c *Connector) serveConn(ctx context.Context, conn net.Conn, h *handler) {
	remote := conn.RemoteAddr().String()
	pc := &peerConn{c: conn}
	c.mu.Lock()
	if ctx.Err() != nil {
		c.mu.Unlock()
		conn.Close()
		return
	}
	c.conns[remote] = pc
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		if c.conns[remote] == pc {
			delete(c.conns, remote)
		}
		c.mu.Unlock()
		conn.Close()
	}()
	c.log.Debug("socket: connection", "remote", remote)
	rd := newReader(conn, c.plan.frame, c.plan.bufSize)
	for {
		if c.plan.idle > 0 {
			conn.SetReadDeadline(time.Now().Add(c.plan.idle))
		}
		msg, err := rd.next()
		if err == nil {
			c.bytesIn.Add(uint64(len(msg)))
			// Messages already received in full go to the gateway
			// together (one storage write for a burst), in order.
			batch := h.collect(ctx, msg, remote, nil)
			for n := 1; n < maxBatch && rd.ready(); n++ {
				if msg, err = rd.next(); err != nil {
					break
				}
				c.bytesIn.Add(uint64(len(msg)))
				batch = h.collect(ctx, msg, remote, batch)
			}
			h.send(ctx, batch)
		}
		if err != nil {
			switch {
			case ctx.Err() != nil, errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed):
			case errors.Is(err, os.ErrDeadlineExceeded):
				c.log.Debug("socket: idle connection closed", "remote", remote)
			default:
				c.frameErrors.Add(1)
				c.log.Warn("socket: connection ended", "remote", remote, "err", err)
			}
			return
		}
	}
}

// maxBatch bounds the messages of one connection sent together.
const maxBatch = 64

// datagram is a received UDP message and its sender.
type datagram struct {
	from string
	b    []byte
}

// udpQueue bounds the datagrams read but not yet converted; beyond it the
// reader waits and the kernel's socket buffer takes (or drops) the rest.
const udpQueue = 64

// serveUDP reads datagrams in one goroutine and converts them in another,
// which hands everything already queued to the gateway at once (one
// storage write for a burst).
func (c *Connector) serveUDP(ctx context.Context, g *kit.Group, pc net.PacketConn, h *handler) error {
	q := make(chan datagram, udpQueue)
	g.Go("udp convert", func() error {
		for {
			var d datagram
			select {
			case d = <-q:
			case <-ctx.Done():
				return nil
			}
			batch := c.collectDatagram(ctx, h, d, nil)
		drain:
			for n := 1; n < maxBatch; n++ {
				select {
				case d = <-q:
					batch = c.collectDatagram(ctx, h, d, batch)
				default:
					break drain
				}
			}
			h.send(ctx, batch)
		}
	})
	buf := make([]byte, max(c.plan.bufSize, 1))
	for {
		n, from, err := pc.ReadFrom(buf)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return nil
			}
			c.log.Debug("socket: udp read", "err", err)
			if backoff.Sleep(ctx, 100*time.Millisecond) != nil {
				return nil
			}
			continue
		}
		c.bytesIn.Add(uint64(n))
		select {
		case q <- datagram{from: from.String(), b: append([]byte(nil), buf[:n]...)}:
		case <-ctx.Done():
			return nil
		}
	}
}

func (c *Connector) collectDatagram(ctx context.Context, h *handler, d datagram, out []connector.Data) []connector.Data {
	for _, msg := range c.plan.frame.splitDatagram(d.b) {
		out = h.collect(ctx, msg, d.from, out)
	}
	return out
}

// client keeps a connection to the device server at the configured
// address, reconnecting with a back-off.
func (c *Connector) client(ctx context.Context, g *kit.Group, h *handler) error {
	b := backoff.Policy{Min: c.plan.reconnect, Max: 30 * time.Second, ResetAfter: 10 * time.Second}.New()
	d := net.Dialer{Timeout: 10 * time.Second}
	for ctx.Err() == nil {
		network := "tcp"
		if c.plan.udp {
			network = "udp"
		}
		conn, err := d.DialContext(ctx, network, c.plan.addr)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			c.log.Warn("socket: connect failed", "addr", c.plan.addr, "err", err)
			if b.Wait(ctx) != nil {
				return nil
			}
			continue
		}
		conn = quietsock.Wrap(conn) // a UDP connection stays as it is
		c.connections.Add(1)
		start := time.Now()
		c.claimPeer(conn.RemoteAddr().String())
		if uc, ok := conn.(*net.UDPConn); ok {
			c.mu.Lock()
			c.udpc = uc
			c.mu.Unlock()
			c.readUDPClient(ctx, uc, h)
		} else {
			c.serveConn(ctx, conn, h)
		}
		if ctx.Err() != nil {
			return nil
		}
		if time.Since(start) > 10*time.Second {
			b.Reset()
		}
		c.log.Info("socket: connection to the device server ended, reconnecting", "addr", c.plan.addr)
		if b.Wait(ctx) != nil {
			return nil
		}
	}
	return nil
}

// claimPeer makes remote, the device server of client mode, the peer of
// every device whose address matches it, so that attribute updates and
// RPCs reach it before it has sent anything.
func (c *Connector) claimPeer(remote string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, d := range c.plan.devices {
		if remote == d.pattern || d.addr.FullMatch(remote) {
			c.peers[d] = remote
		}
	}
}

func (c *Connector) readUDPClient(ctx context.Context, uc *net.UDPConn, h *handler) {
	defer func() {
		c.mu.Lock()
		c.udpc = nil
		c.mu.Unlock()
		uc.Close()
	}()
	if ctx.Err() != nil {
		return
	}
	buf := make([]byte, max(c.plan.bufSize, 1))
	remote := uc.RemoteAddr().String()
	for {
		n, err := uc.Read(buf)
		if errors.Is(err, syscall.ECONNREFUSED) {
			// An ICMP answer to an earlier datagram (the server was not
			// up yet): the socket stays usable, one error per ICMP.
			c.log.Debug("socket: udp server refused a datagram", "addr", remote)
			continue
		}
		if err != nil {
			if ctx.Err() == nil && !errors.Is(err, net.ErrClosed) {
				c.log.Warn("socket: udp read", "addr", remote, "err", err)
			}
			return
		}
		c.bytesIn.Add(uint64(n))
		for _, msg := range c.plan.frame.splitDatagram(buf[:n]) {
			h.handle(ctx, msg, remote)
		}
	}
}

// Stats reports the connector's counters.
func (c *Connector) Stats() map[string]uint64 {
	return map[string]uint64{
		"messages":       c.messages.Load(),
		"bytesReceived":  c.bytesIn.Load(),
		"connections":    c.connections.Load(),
		"frameErrors":    c.frameErrors.Load(),
		"convertErrors":  c.convErrors.Load(),
		"downlinks":      c.downlinks.Load(),
		"downlinkErrors": c.downlinkErrors.Load(),
	}
}
