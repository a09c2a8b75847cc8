package mqtt

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"sync"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// session3 speaks MQTT 3.1 and 3.1.1 through paho.mqtt.golang. Automatic
// reconnection is off: the connector makes a new session after a loss, so
// both protocol versions share one reconnect loop.
type session3 struct {
	c         paho.Client
	doneCh    chan struct{}
	lostOnce  sync.Once
	lostErr   error
	closeOnce sync.Once
}

func dial3(ctx context.Context, o dialOptions) (session, error) {
	s := &session3{doneCh: make(chan struct{})}
	opts := paho.NewClientOptions().
		AddBroker(scheme(o) + "://" + o.addr).
		SetClientID(o.clientID).
		SetProtocolVersion(uint(o.version)).
		SetKeepAlive(o.keepAlive).
		SetCleanSession(o.cleanSession).
		SetAutoReconnect(false).
		SetConnectRetry(false).
		SetConnectTimeout(o.connectTimeout).
		SetWriteTimeout(10 * time.Second).
		SetOrderMatters(true).
		SetAutoAckDisabled(true).
		SetMessageChannelDepth(uint(max(o.inflight, 1))).
		SetDefaultPublishHandler(func(_ paho.Client, m paho.Message) {
			in := inbound{topic: m.Topic(), payload: m.Payload(), qos: m.Qos(), recv: time.Now().UnixMilli()}
			if in.qos > 0 {
				in.ack = m.Ack
			}
			o.onMessage(in)
		}).
		SetConnectionLostHandler(func(_ paho.Client, err error) { s.lost(err) }).
		SetCustomOpenConnectionFn(func(*url.URL, paho.ClientOptions) (net.Conn, error) {
			ctx, cancel := context.WithTimeout(ctx, o.connectTimeout)
			defer cancel()
			c, err := dialConn(ctx, o)
			if err != nil {
				return nil, err
			}
			return &readConn{Conn: c, r: newReader(c, o.window, o.reads)}, nil
		})
	if o.keepAlive == 0 {
		opts.SetKeepAlive(0)
	}
	if o.hasUser {
		opts.SetUsername(o.username).SetPassword(o.password)
	}
	if o.tls != nil {
		opts.SetTLSConfig(o.tls)
	}
	s.c = paho.NewClient(opts)
	tok := s.c.Connect()
	select {
	case <-tok.Done():
	case <-ctx.Done():
		// Connect gives up by itself after connectTimeout.
		<-tok.Done()
		s.c.Disconnect(0)
		return nil, ctx.Err()
	}
	if err := tok.Error(); err != nil {
		return nil, err
	}
	return s, nil
}

func scheme(o dialOptions) string {
	if o.tls != nil {
		return "ssl"
	}
	return "tcp"
}

func (s *session3) lost(err error) {
	s.lostOnce.Do(func() {
		if err == nil {
			err = errNotConnected
		}
		s.lostErr = err
		close(s.doneCh)
	})
}

func (s *session3) done() <-chan struct{} { return s.doneCh }

func (s *session3) err() error {
	select {
	case <-s.doneCh:
		return s.lostErr
	default:
		return nil
	}
}

func wait(ctx context.Context, tok paho.Token) error {
	select {
	case <-tok.Done():
		return tok.Error()
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *session3) subscribe(ctx context.Context, filter string, qos byte) error {
	if !s.c.IsConnectionOpen() {
		return errNotConnected
	}
	tok := s.c.Subscribe(filter, qos, nil)
	if err := wait(ctx, tok); err != nil {
		return err
	}
	st, ok := tok.(*paho.SubscribeToken)
	if ok {
		for _, code := range st.Result() {
			if code == 0x80 {
				return fmt.Errorf("broker refused subscription to %q", filter)
			}
		}
	}
	return nil
}

func (s *session3) unsubscribe(ctx context.Context, filter string) error {
	if !s.c.IsConnectionOpen() {
		return errNotConnected
	}
	return wait(ctx, s.c.Unsubscribe(filter))
}

func (s *session3) publish(ctx context.Context, topic string, qos byte, retain bool, payload []byte) error {
	if !s.c.IsConnectionOpen() {
		return errNotConnected
	}
	err := wait(ctx, s.c.Publish(topic, qos, retain, payload))
	if err == nil && !s.c.IsConnectionOpen() && qos == 0 {
		return errNotConnected
	}
	return err
}

func (s *session3) close() {
	s.closeOnce.Do(func() {
		s.c.Disconnect(250)
		s.lost(errors.New("closed"))
	})
}
