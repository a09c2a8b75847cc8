package tb

import (
	"github.com/tbgw/tbgw/drivers/kit/backoff"

	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
)

// Errors callers act on.
var (
	// ErrNotConnected: no ThingsBoard session is up (or it is still being
	// set up); nothing was sent.
	ErrNotConnected = errors.New("tb: not connected")
	// ErrConnectionLost: the session ended before the broker acknowledged.
	ErrConnectionLost = errors.New("tb: connection lost before acknowledgement")
	// ErrTooLarge: the payload exceeds the server's maxPayloadSize.
	ErrTooLarge = errors.New("tb: payload exceeds the server's maximum payload size")
)

// Handler receives connection events and inbound messages. Every field is
// optional. The callbacks run on goroutines owned by Run; they may publish.
type Handler struct {
	// OnConnect is called after CONNACK, the subscriptions and the session
	// limits (or their timeout); Connected reports true from just before.
	// It runs on Run's goroutine: it may publish, but keep it short.
	OnConnect func()
	// OnDisconnect is called when a session that OnConnect announced ends;
	// err says why (context.Canceled on shutdown).
	OnDisconnect func(err error)
	// OnMessage receives every inbound message on the subscribed topics
	// except the responses the client correlates itself, in arrival order,
	// on one goroutine. payload is owned by the callee. Messages arriving
	// while InboundQueue messages wait are dropped (and counted).
	OnMessage func(topic string, payload []byte)
}

// Limits are the effective session limits.
type Limits struct {
	// MaxPayload is the payload budget to split messages to: 80 % of the
	// server's maxPayloadSize, or Config.MaxPayloadSize until it is known.
	MaxPayload int
	// ServerMaxPayload is the server's maxPayloadSize (0: unknown); larger
	// publishes are refused with ErrTooLarge.
	ServerMaxPayload int
	// MaxInflight is the number of publishes awaiting acknowledgement.
	MaxInflight int
	// FromServer reports that getSessionLimits answered on this session.
	FromServer bool
}

// Stats are monotonic counters for gateway statistics.
type Stats struct {
	MessagesSent     uint64 // publishes acknowledged (QoS 1) or written (QoS 0)
	BytesSent        uint64 // payload bytes of MessagesSent
	MessagesFailed   uint64 // publishes that ended in an error
	MessagesReceived uint64 // inbound messages, responses included
	MessagesDropped  uint64 // inbound messages dropped on a full queue
	Connects         uint64 // sessions established
	ConnectFailures  uint64 // connection attempts that failed
	Reconnects       uint64 // sessions established after the first
}

// Client is the ThingsBoard MQTT connection. Build it with New, run it with
// Run; every other method is safe for concurrent use.
type Client struct {
	cfg  Config
	kind authKind
	tls  *tls.Config
	log  *slog.Logger
	h    Handler
	now  func() time.Time

	rl      *limiter
	running atomic.Bool
	cur     atomic.Pointer[session] // nil unless connected and set up
	limits  atomic.Pointer[Limits]
	// knownLimits: a session got getSessionLimits answered; later
	// sessions start with those limits instead of waiting.
	knownLimits atomic.Bool
	reqID       atomic.Int64
	pending     pendingMap
	echo        echoFilter
	inbound     chan inMsg

	dropLogged atomic.Int64 // unix ns of the last "queue full" log
	caHinted   atomic.Bool  // the missing CA bundle was logged

	sent, bytes, failed, received, dropped, connects, reconnects, connFails atomic.Uint64
}

// New validates cfg, loads the TLS material and returns an idle client. It
// does no network I/O.
func New(cfg Config, log *slog.Logger, h Handler) (*Client, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("thingsboard: %w", err)
	}
	kind, _ := cfg.Security.authKind()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c := &Client{
		cfg:     cfg,
		kind:    kind,
		log:     log, // named by the caller (tbgw: component=tb_connection)
		h:       h,
		now:     time.Now,
		inbound: make(chan inMsg, cfg.InboundQueue),
	}
	c.pending.m = make(map[int64]chan []byte)
	c.echo.seed = maphash.MakeSeed()
	if cfg.useTLS(kind) {
		tc, err := cfg.tlsConfig()
		if err != nil {
			return nil, fmt.Errorf("thingsboard: security: %w", err)
		}
		c.tls = tc
	}
	rl, err := newLimiter(&cfg, func() time.Time { return c.now() })
	if err != nil {
		return nil, fmt.Errorf("thingsboard: %w", err)
	}
	c.rl = rl
	c.limits.Store(&Limits{MaxPayload: cfg.MaxPayloadSize, MaxInflight: c.inflightFor(0)})
	return c, nil
}

// Connected reports whether a session is up and set up (subscriptions and
// session limits done).
func (c *Client) Connected() bool { return c.cur.Load() != nil }

// Limits returns the effective session limits.
func (c *Client) Limits() Limits { return *c.limits.Load() }

// Stats returns the counters.
func (c *Client) Stats() Stats {
	return Stats{
		MessagesSent:     c.sent.Load(),
		BytesSent:        c.bytes.Load(),
		MessagesFailed:   c.failed.Load(),
		MessagesReceived: c.received.Load(),
		MessagesDropped:  c.dropped.Load(),
		Connects:         c.connects.Load(),
		ConnectFailures:  c.connFails.Load(),
		Reconnects:       c.reconnects.Load(),
	}
}

// TLS reports whether the connection is encrypted.
func (c *Client) TLS() bool { return c.tls != nil }

// Run connects and keeps the connection up until ctx ends, reconnecting
// with capped exponential backoff and jitter; every session subscribes and
// requests the session limits anew. It returns nil after ctx ends and the
// session was closed with DISCONNECT. Run may be called once at a time.
func (c *Client) Run(ctx context.Context) error {
	if !c.running.CompareAndSwap(false, true) {
		return errors.New("tb: Run already active")
	}
	defer c.running.Store(false)

	var wg sync.WaitGroup
	wg.Go(func() { c.dispatch(ctx) })
	defer wg.Wait()

	p := backoff.Policy{Min: c.cfg.ReconnectMin, Max: c.cfg.ReconnectMax}
	b := p.New()
	for {
		up, err := c.session(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if up {
			b.Reset()
		} else {
			c.connFails.Add(1)
		}
		var d time.Duration
		if !up && isRefused(err) {
			// Nothing listens (ThingsBoard restarting): try again soon,
			// so data flows within a second of its return. Only
			// rejections and errors back off.
			d = p.Jittered(min(refusedRetry, b.Current()))
		} else {
			d = b.Next()
		}
		c.log.Warn("ThingsBoard connection down, retrying",
			"server", c.addr(), "error", err, "retry_in", d.Round(time.Millisecond))
		if backoff.Sleep(ctx, d) != nil {
			return nil
		}
	}
}

// refusedRetry is the reconnect delay (before jitter) while the server
// refuses connections.
const refusedRetry = 500 * time.Millisecond

// isRefused reports whether err is a refused TCP connection (nothing
// listening on the port).
func isRefused(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, syscall.ECONNREFUSED) {
		return true
	}
	// paho may flatten the dial error into text.
	return strings.Contains(err.Error(), "connection refused")
}

func (c *Client) addr() string {
	return net.JoinHostPort(c.cfg.Host, strconv.Itoa(c.cfg.Port))
}

// writeTimeout bounds one packet write; a link that accepts nothing for
// that long is considered dead.
const writeTimeout = 10 * time.Second

// session is one MQTT connection's state.
type session struct {
	mc  mqtt.Client
	sem chan struct{} // in-flight window: capacity Config.MaxInflight
	// reserved is the number of sem slots held back so that the window is
	// the session's MaxInflight; only adjustWindow changes it.
	reserved atomic.Int64
	winMu    sync.Mutex
	fifo     chan inflight // in-flight tokens in publish order, for the reaper
	lost     chan struct{} // closed when the connection is gone
	once     sync.Once
	err      error // why lost; written before lost is closed

	rawMu sync.Mutex
	raw   net.Conn // while connecting, to abort on ctx
}

func (s *session) markLost(err error) {
	s.once.Do(func() {
		s.err = err
		close(s.lost)
	})
}

// session runs one connection from dial to loss or ctx end. up reports that
// the session got as far as OnConnect.
func (c *Client) session(ctx context.Context) (up bool, err error) {
	s := &session{lost: make(chan struct{})}
	opts := c.pahoOptions(ctx, s)
	s.mc = mqtt.NewClient(opts)

	// Abort a slow connect when ctx ends by closing the raw connection.
	stop := context.AfterFunc(ctx, func() {
		s.rawMu.Lock()
		if s.raw != nil {
			_ = s.raw.Close()
		}
		s.rawMu.Unlock()
	})
	ct := s.mc.Connect()
	<-ct.Done() // bounded by ConnectTimeout (dial + CONNACK deadlines)
	stop()
	if err := ct.Error(); err != nil {
		return false, fmt.Errorf("connect %s (%s): %w", c.addr(), c.kind, err)
	}
	if ctx.Err() != nil {
		s.mc.Disconnect(0)
		return false, ctx.Err()
	}

	if err := c.subscribe(ctx, s); err != nil {
		s.mc.Disconnect(0)
		s.markLost(err)
		return false, err
	}
	// Known session limits (from an earlier session) are used at once
	// and updated when the answer comes; without them the session waits
	// for the answer (bounded by SessionLimitsTimeout).
	s.sem = make(chan struct{}, c.cfg.MaxInflight)
	s.fifo = make(chan inflight, c.cfg.MaxInflight)
	req := c.sendSessionLimitsRequest(s)
	var lim Limits
	var limitsWait sync.WaitGroup
	defer limitsWait.Wait()
	if c.knownLimits.Load() {
		lim = c.Limits()
		limitsWait.Go(func() {
			l := c.awaitSessionLimits(ctx, s, req)
			c.adjustWindow(s, l.MaxInflight)
		})
	} else {
		lim = c.awaitSessionLimits(ctx, s, req)
	}
	c.adjustWindow(s, lim.MaxInflight)
	if ctx.Err() != nil {
		s.mc.Disconnect(0)
		s.markLost(ctx.Err())
		return false, ctx.Err()
	}
	select {
	case <-s.lost:
		return false, s.err
	default:
	}

	var reaper sync.WaitGroup
	reaper.Go(func() { c.reap(s) })
	defer reaper.Wait()

	if c.connects.Add(1) > 1 {
		c.reconnects.Add(1)
	}
	c.log.Info("connected to ThingsBoard", "server", c.addr(), "auth", c.kind.String(), "tls", c.tls != nil,
		"max_payload", lim.MaxPayload, "max_inflight", lim.MaxInflight, "server_limits", lim.FromServer)
	c.cur.Store(s)
	if c.h.OnConnect != nil {
		c.h.OnConnect()
	}

	select {
	case <-s.lost:
		err = s.err
	case <-ctx.Done():
		err = ctx.Err()
		c.cur.Store(nil)
		c.quiesce(s, time.Second)
		s.mc.Disconnect(250)
		s.markLost(ErrConnectionLost)
	}
	c.cur.Store(nil)
	if c.h.OnDisconnect != nil {
		c.h.OnDisconnect(err)
	}
	return true, err
}

// adjustWindow makes the session's in-flight window n publishes (at least
// 1, at most Config.MaxInflight) by holding back the other slots. It
// waits for slots in use to free up when shrinking, until the session is
// lost.
func (c *Client) adjustWindow(s *session, n int) {
	s.winMu.Lock()
	defer s.winMu.Unlock()
	target := int64(cap(s.sem) - min(max(n, 1), cap(s.sem)))
	for s.reserved.Load() < target {
		select {
		case s.sem <- struct{}{}:
			s.reserved.Add(1)
		case <-s.lost:
			return
		}
	}
	for s.reserved.Load() > target {
		<-s.sem // len(s.sem) >= reserved > 0
		s.reserved.Add(-1)
	}
}

// quiesce waits up to d for the in-flight window to empty.
func (c *Client) quiesce(s *session, d time.Duration) {
	deadline := time.Now().Add(d)
	for int64(len(s.sem)) > s.reserved.Load() && time.Now().Before(deadline) {
		select {
		case <-s.lost:
			return
		case <-time.After(10 * time.Millisecond):
		}
	}
}

func (c *Client) pahoOptions(ctx context.Context, s *session) *mqtt.ClientOptions {
	o := mqtt.NewClientOptions()
	o.AddBroker("tcp://" + c.addr()) // the scheme is ignored: dialing is ours
	o.SetProtocolVersion(4)
	o.SetCleanSession(true)
	o.SetOrderMatters(true)
	o.SetAutoReconnect(false)
	o.SetConnectRetry(false)
	o.SetResumeSubs(false)
	o.SetStore(nullStore{})
	o.SetKeepAlive(time.Duration(c.cfg.KeepAliveSec) * time.Second)
	o.SetPingTimeout(min(10*time.Second, max(time.Second, time.Duration(c.cfg.KeepAliveSec)*time.Second/2)))
	o.SetConnectTimeout(c.cfg.ConnectTimeout)
	// Bounds socket writes and, after a connection loss, paho's hand-over
	// of a publish that raced the loss (it waits for a writer that is gone).
	o.SetWriteTimeout(writeTimeout)
	sec := c.cfg.Security
	switch c.kind {
	case authToken:
		o.SetUsername(sec.AccessToken)
	case authBasic:
		o.SetUsername(sec.Username)
		o.SetPassword(sec.Password)
	}
	o.SetClientID(sec.ClientID)
	o.SetDefaultPublishHandler(c.route)
	o.SetConnectionLostHandler(func(_ mqtt.Client, err error) { s.markLost(err) })
	o.SetCustomOpenConnectionFn(func(*url.URL, mqtt.ClientOptions) (net.Conn, error) {
		conn, err := c.dial(ctx)
		if err != nil {
			return nil, err
		}
		s.rawMu.Lock()
		s.raw = conn
		s.rawMu.Unlock()
		if ctx.Err() != nil { // cancelled between dial and here: AfterFunc saw no conn
			_ = conn.Close()
			return nil, ctx.Err()
		}
		return newBufReadConn(conn), nil
	})
	return o
}

// subscribe makes the section 2.2 subscriptions and waits for the SUBACK.
func (c *Client) subscribe(ctx context.Context, s *session) error {
	subs := subscriptions(byte(c.cfg.QoS))
	t := s.mc.SubscribeMultiple(subs, nil)
	if err := waitToken(ctx, t, s.lost, c.cfg.ConnectTimeout); err != nil {
		return fmt.Errorf("subscribe: %w", err)
	}
	if st, ok := t.(*mqtt.SubscribeToken); ok {
		for topic, code := range st.Result() {
			if code == 0x80 {
				c.log.Warn("ThingsBoard refused a subscription", "topic", topic)
			}
		}
	}
	return nil
}

// waitToken waits for a paho token, ctx, connection loss or timeout.
func waitToken(ctx context.Context, t mqtt.Token, lost <-chan struct{}, timeout time.Duration) error {
	tm := time.NewTimer(timeout)
	defer tm.Stop()
	select {
	case <-t.Done():
		return t.Error()
	case <-ctx.Done():
		return ctx.Err()
	case <-lost:
		return ErrConnectionLost
	case <-tm.C:
		return errors.New("timed out")
	}
}
