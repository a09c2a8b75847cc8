package tbtest

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"
)

// StandInUser is the MQTT user name of the ThingsBoard stand-in; brokers
// started here always admit it on their plain listener.
const StandInUser = "tbtest-thingsboard"

// ConnInfo describes a connecting client to an auth function.
type ConnInfo struct {
	Username, Password, ClientID string
	// PeerCertificates is the verified client certificate chain (TLS only).
	PeerCertificates []*x509.Certificate
	TLS              bool
}

// BrokerOption configures StartBroker.
type BrokerOption func(*Broker)

// WithAuth admits only clients for which fn returns true (the stand-in is
// always admitted).
func WithAuth(fn func(ConnInfo) bool) BrokerOption {
	return func(b *Broker) { b.auth = fn }
}

// WithTLS adds a TLS listener (TLSPort) using cfg.
func WithTLS(cfg *tls.Config) BrokerOption {
	return func(b *Broker) { b.tlsCfg = cfg }
}

// Broker is an embedded MQTT broker (mochi-mqtt) on 127.0.0.1. It delivers
// no message back to the client that published it (like ThingsBoard, which
// is not a broker), and can be stopped and started again on the same ports
// to simulate outages.
type Broker struct {
	t       testing.TB
	Host    string
	Port    int // plain listener
	TLSPort int // TLS listener, 0 without WithTLS
	auth    func(ConnInfo) bool
	tlsCfg  *tls.Config

	mu   sync.Mutex
	srv  *mqtt.Server
	lns  []*trackedListener
	drop atomic.Bool // swallow publishes of non-stand-in clients (no PUBACK)

	// ThingsBoard is the broker's own subscriber in reality: nothing a
	// gateway publishes can miss it. Once a stand-in has subscribed here,
	// a restarted broker holds other clients' CONNECTs (bounded) until the
	// stand-in has subscribed again, so no test loses messages in the gap
	// between a broker restart and the stand-in's resubscription.
	standInSeen atomic.Bool
	standInUp   chan struct{} // closed when the stand-in subscribed since start
	pubs        atomic.Int64
	tele        atomic.Int64 // of them on v1/gateway/telemetry
}

// StartBroker starts a broker on random 127.0.0.1 ports and stops it when
// the test ends.
func StartBroker(t testing.TB, opts ...BrokerOption) *Broker {
	t.Helper()
	b := &Broker{t: t, Host: "127.0.0.1"}
	for _, o := range opts {
		o(b)
	}
	if err := b.start(); err != nil {
		t.Fatalf("tbtest: start broker: %v", err)
	}
	t.Cleanup(b.Stop)
	return b
}

// Addr is the plain listener's host:port.
func (b *Broker) Addr() string { return net.JoinHostPort(b.Host, strconv.Itoa(b.Port)) }

// Published counts the PUBLISH packets received from clients other than
// the stand-in.
func (b *Broker) Published() int64 { return b.pubs.Load() }

// PublishedTelemetry counts those of them on v1/gateway/telemetry.
func (b *Broker) PublishedTelemetry() int64 { return b.tele.Load() }

// DropPublishes makes the broker swallow PUBLISH packets of clients other
// than the stand-in without acknowledging them (no PUBACK), to test that
// nothing is reported delivered without an acknowledgement.
func (b *Broker) DropPublishes(on bool) { b.drop.Store(on) }

// Start starts a stopped broker again on the same ports.
func (b *Broker) Start() {
	b.t.Helper()
	if err := b.start(); err != nil {
		b.t.Fatalf("tbtest: restart broker: %v", err)
	}
}

// Stop closes the listeners and every client connection. Idempotent.
func (b *Broker) Stop() {
	b.mu.Lock()
	srv, lns := b.srv, b.lns
	b.srv, b.lns = nil, nil
	b.mu.Unlock()
	if srv == nil {
		return
	}
	// mochi's Close races (and can deadlock) with client goroutines still
	// attaching or detaching, so every connection is closed and its
	// goroutine awaited first; Close then finds nobody left.
	for _, l := range lns {
		l.shutdown()
	}
	_ = srv.Close()
}

// Running reports whether the broker is started.
func (b *Broker) Running() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.srv != nil
}

func (b *Broker) start() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.srv != nil {
		return nil
	}
	b.standInUp = make(chan struct{})
	srv := mqtt.New(&mqtt.Options{Logger: slog.New(slog.DiscardHandler)})
	if err := srv.AddHook(&hook{b: b}, nil); err != nil {
		return err
	}
	plain, err := listenRetry(b.Port)
	if err != nil {
		return err
	}
	b.Port = plain.Addr().(*net.TCPAddr).Port
	pl := newTracked("plain", plain)
	b.lns = append(b.lns[:0], pl)
	if err := srv.AddListener(pl); err != nil {
		_ = plain.Close()
		return err
	}
	if b.tlsCfg != nil {
		tl, err := listenRetry(b.TLSPort)
		if err != nil {
			pl.shutdown()
			_ = srv.Close()
			return err
		}
		b.TLSPort = tl.Addr().(*net.TCPAddr).Port
		tt := newTracked("tls", tls.NewListener(tl, b.tlsCfg))
		b.lns = append(b.lns, tt)
		if err := srv.AddListener(tt); err != nil {
			_ = tl.Close()
			pl.shutdown()
			_ = srv.Close()
			return err
		}
	}
	if err := srv.Serve(); err != nil {
		for _, l := range b.lns {
			l.shutdown()
		}
		_ = srv.Close()
		return err
	}
	b.srv = srv
	return nil
}

// listenRetry binds 127.0.0.1:port (0: any), retrying a busy fixed port
// for a bounded time (a restart may race the old socket's close).
func listenRetry(port int) (net.Listener, error) {
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	deadline := time.Now().Add(5 * time.Second)
	for {
		l, err := net.Listen("tcp", addr)
		if err == nil || port == 0 || time.Now().After(deadline) {
			return l, err
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// hook implements authentication, publish dropping and "no local".
type hook struct {
	mqtt.HookBase
	b *Broker
}

func (h *hook) ID() string { return "tbtest" }

func (h *hook) Provides(x byte) bool {
	return bytes.Contains([]byte{mqtt.OnConnectAuthenticate, mqtt.OnACLCheck, mqtt.OnPublish,
		mqtt.OnSelectSubscribers, mqtt.OnSubscribed}, []byte{x})
}

func (h *hook) OnConnectAuthenticate(cl *mqtt.Client, pk packets.Packet) bool {
	info := ConnInfo{Username: string(cl.Properties.Username), Password: string(pk.Connect.Password), ClientID: cl.ID}
	if tc, ok := cl.Net.Conn.(*tls.Conn); ok {
		info.TLS = true
		info.PeerCertificates = tc.ConnectionState().PeerCertificates
	}
	if info.Username == StandInUser && cl.Net.Listener == "plain" {
		return true
	}
	if h.b.standInSeen.Load() {
		h.b.mu.Lock()
		up := h.b.standInUp
		h.b.mu.Unlock()
		select {
		case <-up:
		case <-time.After(standInWait):
		}
	}
	if h.b.auth == nil {
		return true
	}
	return h.b.auth(info)
}

func (h *hook) OnACLCheck(*mqtt.Client, string, bool) bool { return true }

// standInWait bounds how long a CONNECT waits for the stand-in after a
// broker restart.
const standInWait = 5 * time.Second

func (h *hook) OnSubscribed(cl *mqtt.Client, _ packets.Packet, _ []byte) {
	if string(cl.Properties.Username) != StandInUser {
		return
	}
	h.b.standInSeen.Store(true)
	h.b.mu.Lock()
	select {
	case <-h.b.standInUp:
	default:
		close(h.b.standInUp)
	}
	h.b.mu.Unlock()
}

func (h *hook) OnPublish(cl *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	if string(cl.Properties.Username) == StandInUser {
		return pk, nil
	}
	h.b.pubs.Add(1)
	if pk.TopicName == "v1/gateway/telemetry" {
		h.b.tele.Add(1)
	}
	if h.b.drop.Load() {
		return pk, packets.ErrRejectPacket
	}
	return pk, nil
}

func (h *hook) OnSelectSubscribers(subs *mqtt.Subscribers, pk packets.Packet) *mqtt.Subscribers {
	delete(subs.Subscriptions, pk.Origin)
	return subs
}

func (b *Broker) String() string { return fmt.Sprintf("mochi broker %s", b.Addr()) }

// trackedListener is a mochi listener that knows its connections and the
// goroutines serving them, so that Stop can end them all before mochi's
// Close.
type trackedListener struct {
	id    string
	l     net.Listener
	mu    sync.Mutex
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup // one per connection; Add only under mu while conns != nil
}

func newTracked(id string, l net.Listener) *trackedListener {
	return &trackedListener{id: id, l: l, conns: map[net.Conn]struct{}{}}
}

func (t *trackedListener) Init(*slog.Logger) error { return nil }
func (t *trackedListener) ID() string              { return t.id }
func (t *trackedListener) Address() string         { return t.l.Addr().String() }
func (t *trackedListener) Protocol() string        { return "tcp" }

func (t *trackedListener) Serve(establish listeners.EstablishFn) {
	for {
		conn, err := t.l.Accept()
		if err != nil {
			return
		}
		t.mu.Lock()
		if t.conns == nil { // shut down
			t.mu.Unlock()
			_ = conn.Close()
			return
		}
		t.conns[conn] = struct{}{}
		t.wg.Add(1)
		t.mu.Unlock()
		go func() {
			defer t.wg.Done()
			_ = establish(t.id, conn)
			t.mu.Lock()
			delete(t.conns, conn)
			t.mu.Unlock()
		}()
	}
}

// shutdown stops accepting, closes every connection and waits until the
// goroutines serving them returned. Idempotent.
func (t *trackedListener) shutdown() {
	_ = t.l.Close()
	t.mu.Lock()
	for c := range t.conns {
		_ = c.Close()
	}
	t.conns = nil
	t.mu.Unlock()
	t.wg.Wait()
}

func (t *trackedListener) Close(closeClients listeners.CloseFn) {
	_ = t.l.Close()
	closeClients(t.id)
}
