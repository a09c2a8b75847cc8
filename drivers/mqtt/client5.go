package mqtt

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/eclipse/paho.golang/paho"
	"github.com/eclipse/paho.golang/paho/session/state"
	"github.com/tbgw/tbgw/drivers/kit/quietsock"
)

// session5 speaks MQTT 5 through the Eclipse paho.golang client (its core
// package only: autopaho would pull in an HTTP stack for websockets).
type session5 struct {
	c         *paho.Client
	acks      *ackSession // paho's session state, acknowledging as released
	mu        sync.Mutex
	lostErr   error
	closeOnce sync.Once
}

func dial5(ctx context.Context, o dialOptions) (session, error) {
	ctx, cancel := context.WithTimeout(ctx, o.connectTimeout)
	defer cancel()
	conn, err := dialConn(ctx, o)
	if err != nil {
		return nil, err
	}
	bc := newBufConn(conn, o.window, o.reads)
	conn = bc
	s := &session5{acks: &ackSession{SessionManager: state.NewInMemory(), conn: bc}}
	// deliver hands a message to the connector; track registers a QoS 1
	// or 2 message for its acknowledgement.
	deliver := func(topic string, payload []byte, qos byte, id uint16, track func(uint16) func()) {
		in := inbound{topic: topic, payload: payload, qos: qos, recv: time.Now().UnixMilli()}
		if qos > 0 {
			in.ack = track(id)
			in.acks = s.acks
		}
		o.onMessage(in)
	}
	// QoS 0 and 1 messages are decoded by the connection, before paho.
	bc.onPub = func(topic string, payload []byte, qos byte, id uint16) {
		deliver(topic, payload, qos, id, s.acks.trackOwn)
	}
	cfg := paho.ClientConfig{
		ClientID: o.clientID,
		Conn:     conn,
		OnPublishReceived: []func(paho.PublishReceived) (bool, error){
			func(pr paho.PublishReceived) (bool, error) {
				p := pr.Packet
				deliver(p.Topic, p.Payload, p.QoS, p.PacketID, s.acks.track)
				return true, nil
			},
		},
		OnClientError:      func(err error) { s.setErr(err) },
		OnServerDisconnect: func(d *paho.Disconnect) { s.setErr(fmt.Errorf("broker disconnected: reason %#x", d.ReasonCode)) },
		Session:            s.acks,
		PacketTimeout:      10 * time.Second,
	}
	s.c = paho.NewClient(cfg)
	rm := uint16(min(max(o.inflight, 1), 65535))
	cp := &paho.Connect{
		ClientID:   o.clientID,
		KeepAlive:  uint16(o.keepAlive / time.Second),
		CleanStart: o.cleanSession,
		Properties: &paho.ConnectProperties{ReceiveMaximum: &rm},
	}
	if o.sessionExpiry > 0 {
		se := o.sessionExpiry
		cp.Properties.SessionExpiryInterval = &se
	}
	if o.hasUser {
		cp.Username, cp.UsernameFlag = o.username, true
		if o.password != "" {
			cp.Password, cp.PasswordFlag = []byte(o.password), true
		}
	}
	ca, err := s.c.Connect(ctx, cp)
	if err != nil {
		_ = conn.Close()
		_ = s.acks.Close()
		if ca != nil && ca.ReasonCode != 0 {
			return nil, fmt.Errorf("broker refused connection: reason %#x %s", ca.ReasonCode, connackReason(ca))
		}
		return nil, err
	}
	return s, nil
}

// dialConn opens the TCP (or TLS) connection to the broker.
func dialConn(ctx context.Context, o dialOptions) (net.Conn, error) {
	d := net.Dialer{}
	c, err := d.DialContext(ctx, "tcp", o.addr)
	if err != nil {
		return nil, err
	}
	c = quietsock.Wrap(c)
	if o.tls == nil {
		return c, nil
	}
	cfg := o.tls
	if cfg.ServerName == "" {
		// What tls.Dialer does: verify the host dialled.
		cfg = cfg.Clone()
		cfg.ServerName, _, _ = net.SplitHostPort(o.addr)
	}
	tc := tls.Client(c, cfg)
	if err := tc.HandshakeContext(ctx); err != nil {
		_ = c.Close()
		return nil, err
	}
	return tc, nil
}

func connackReason(ca *paho.Connack) string {
	if ca.Properties != nil && ca.Properties.ReasonString != "" {
		return ca.Properties.ReasonString
	}
	return ""
}

func (s *session5) setErr(err error) {
	s.mu.Lock()
	if s.lostErr == nil {
		s.lostErr = err
	}
	s.mu.Unlock()
}

func (s *session5) done() <-chan struct{} { return s.c.Done() }

func (s *session5) err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.lostErr == nil {
		return errNotConnected
	}
	return s.lostErr
}

func (s *session5) alive() bool {
	select {
	case <-s.c.Done():
		return false
	default:
		return true
	}
}

func (s *session5) subscribe(ctx context.Context, filter string, qos byte) error {
	if !s.alive() {
		return errNotConnected
	}
	sa, err := s.c.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: filter, QoS: qos}}})
	if err != nil {
		return err
	}
	if len(sa.Reasons) > 0 && sa.Reasons[0] >= 0x80 {
		return fmt.Errorf("broker refused subscription to %q: reason %#x", filter, sa.Reasons[0])
	}
	return nil
}

func (s *session5) unsubscribe(ctx context.Context, filter string) error {
	if !s.alive() {
		return errNotConnected
	}
	_, err := s.c.Unsubscribe(ctx, &paho.Unsubscribe{Topics: []string{filter}})
	return err
}

func (s *session5) publish(ctx context.Context, topic string, qos byte, retain bool, payload []byte) error {
	if !s.alive() {
		return errNotConnected
	}
	pr, err := s.c.Publish(ctx, &paho.Publish{Topic: topic, QoS: qos, Retain: retain, Payload: payload})
	if err != nil {
		return err
	}
	if pr != nil && pr.ReasonCode >= 0x80 {
		return fmt.Errorf("broker refused publish to %q: reason %#x", topic, pr.ReasonCode)
	}
	return nil
}

func (s *session5) close() {
	s.closeOnce.Do(func() {
		if s.alive() {
			// Released acknowledgements were written when released.
			_ = s.c.Disconnect(&paho.Disconnect{ReasonCode: 0})
		}
		<-s.c.Done()
		_ = s.acks.Close()
		s.setErr(errors.New("closed"))
	})
}
