package tb

import (
	"context"
	"fmt"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/eclipse/paho.mqtt.golang/packets"
)

// Token tracks one publish. The zero Token is complete with ErrNotConnected.
type Token struct {
	t    mqtt.Token
	lost <-chan struct{}
}

// Wait blocks until the publish is acknowledged (QoS 1: PUBACK received;
// QoS 0: written to the connection), failed, or ctx ends. It returns nil
// only on acknowledgement; ErrConnectionLost (or another error) when the
// session ended first. A ctx error says nothing about the message.
func (t Token) Wait(ctx context.Context) error {
	if t.t == nil {
		return ErrNotConnected
	}
	select {
	case <-t.t.Done():
		return tokenErr(t.t)
	default:
	}
	select {
	case <-t.t.Done():
		return tokenErr(t.t)
	case <-t.lost:
		// paho completes a QoS 1 token without error only on PUBACK, and
		// the session is marked lost after paho's comms have stopped, so a
		// completed token is final; an incomplete one will never complete.
		select {
		case <-t.t.Done():
			return tokenErr(t.t)
		default:
			return ErrConnectionLost
		}
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Done is closed when the paho side of the publish completed; it may stay
// open after the session is lost (Wait handles that).
func (t Token) Done() <-chan struct{} {
	if t.t == nil {
		return closedChan
	}
	return t.t.Done()
}

var closedChan = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

func tokenErr(t mqtt.Token) error {
	if err := t.Error(); err != nil {
		return fmt.Errorf("%w: %v", ErrConnectionLost, err)
	}
	return nil
}

// Publish sends payload to topic with qos (0 or 1). It first waits (bounded
// by ctx) for the rate limits of the topic's class and for a slot in the
// in-flight window, then hands the message to the connection in call order.
// datapoints is the message's datapoint cost for the datapoint limits;
// pass a negative value to have it counted from the payload
// (CountDatapoints). The returned Token reports the acknowledgement.
//
// Publish fails at once with ErrNotConnected when no session is up, and
// with ErrTooLarge above the server's maxPayloadSize. A publish that races
// a connection loss may block up to 10 s (paho's hand-over timeout) before
// its Token fails. payload must not be modified until the Token completes.
func (c *Client) Publish(ctx context.Context, topic string, payload []byte, qos byte, datapoints int) (Token, error) {
	if qos > 1 {
		return Token{}, fmt.Errorf("tb: publish %s: QoS %d not supported", topic, qos)
	}
	s := c.cur.Load()
	if s == nil {
		return Token{}, ErrNotConnected
	}
	if lim := c.limits.Load(); lim.ServerMaxPayload > 0 && len(payload) > lim.ServerMaxPayload {
		return Token{}, fmt.Errorf("tb: publish %s (%d bytes): %w", topic, len(payload), ErrTooLarge)
	}
	if datapoints < 0 {
		datapoints = CountDatapoints(topic, payload)
	}
	if err := c.rl.wait(ctx, s.lost, topic, datapoints); err != nil {
		return Token{}, err
	}
	return c.send(ctx, s, topic, payload, qos)
}

// send takes an in-flight slot and hands the message to paho.
func (c *Client) send(ctx context.Context, s *session, topic string, payload []byte, qos byte) (Token, error) {
	select {
	case s.sem <- struct{}{}:
	default:
		select {
		case s.sem <- struct{}{}:
		case <-s.lost:
			return Token{}, ErrConnectionLost
		case <-ctx.Done():
			return Token{}, ctx.Err()
		}
	}
	if echoTopic(topic) {
		c.echo.sent(topic, payload, c.now())
	}
	t := s.mc.Publish(topic, qos, false, payload)
	s.fifo <- inflight{t, len(payload)} // capacity equals sem's: never blocks
	return Token{t: t, lost: s.lost}, nil
}

// reap releases in-flight slots as tokens complete, in publish order, and
// counts the outcomes. It returns when the session is lost.
func (c *Client) reap(s *session) {
	for {
		select {
		case f := <-s.fifo:
			t := f.t
			select {
			case <-t.Done():
			case <-s.lost:
				select {
				case <-t.Done():
				default:
					c.failed.Add(uint64(1 + len(s.fifo)))
					return
				}
			}
			if t.Error() != nil {
				c.failed.Add(1)
			} else {
				c.sent.Add(1)
				c.bytes.Add(uint64(f.n))
			}
			<-s.sem
		case <-s.lost:
			c.failed.Add(uint64(len(s.fifo)))
			return
		}
	}
}

// inflightFor computes the in-flight window from the server's
// maxInflightMessages (0: unknown) and the message rate limits: 80 % of the
// smallest, at least 1, at most Config.MaxInflight.
func (c *Client) inflightFor(serverMax int) int {
	m := serverMax
	if v := c.rl.minMessageLimit(); v > 0 && (m == 0 || v < m) {
		m = v
	}
	if m == 0 {
		return c.cfg.MaxInflight
	}
	n := int(float64(m) * c.cfg.RateLimitPercent / 100)
	return min(max(n, 1), c.cfg.MaxInflight)
}

// nullStore is a paho Store that keeps nothing: sessions are clean and
// un-acknowledged messages are re-sent by the caller from its storage.
type nullStore struct{}

func (nullStore) Open()                             {}
func (nullStore) Put(string, packets.ControlPacket) {}
func (nullStore) Get(string) packets.ControlPacket  { return nil }
func (nullStore) All() []string                     { return nil }
func (nullStore) Del(string)                        {}
func (nullStore) Close()                            {}
func (nullStore) Reset()                            {}

var _ mqtt.Store = nullStore{}

// inflight is one publish awaiting completion.
type inflight struct {
	t mqtt.Token
	n int // payload bytes
}
