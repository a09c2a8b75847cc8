package mqtt

import (
	"context"
	"crypto/tls"
	"errors"
	"time"
)

// inbound is one PUBLISH received from the device broker. ack sends its
// PUBACK (QoS 1) or PUBREC (QoS 2); it is nil for QoS 0 and must be called
// exactly once otherwise, in the order messages of one topic arrived.
type inbound struct {
	topic   string
	payload []byte
	qos     byte
	ack     func()
	acks    *ackSession // MQTT 5: the session whose acknowledgements ack releases
	recv    int64       // receive time, Unix ms
}

// session is one established connection to the device broker, made by a
// dialer. Its methods are safe for concurrent use. Done is closed when the
// connection is lost or closed; after that every call fails.
type session interface {
	subscribe(ctx context.Context, filter string, qos byte) error
	unsubscribe(ctx context.Context, filter string) error
	publish(ctx context.Context, topic string, qos byte, retain bool, payload []byte) error
	done() <-chan struct{}
	// err tells why the connection ended (after done is closed).
	err() error
	// close disconnects cleanly and waits for the client's goroutines.
	close()
}

// dialOptions is what both client implementations need to connect.
type dialOptions struct {
	addr           string // host:port
	clientID       string
	version        int // 3 (3.1), 4 (3.1.1), 5
	keepAlive      time.Duration
	cleanSession   bool // clean session (v3) or clean start (v5)
	sessionExpiry  uint32
	username       string
	password       string
	hasUser        bool
	tls            *tls.Config // nil: plain TCP
	inflight       int         // receive maximum (v5); inbound queue bound
	connectTimeout time.Duration
	// onMessage is called from the client's reader goroutine for every
	// inbound PUBLISH, in order. It may block (back-pressure).
	onMessage func(m inbound)
	// window is the least time between two small socket reads (MQTT 5):
	// the device side's share of the gateway's coalescing window.
	window time.Duration
	// reads, if not nil, follows the socket reads (MQTT 5).
	reads *readStats
}

var errNotConnected = errors.New("not connected to the broker")

// dial connects with the client matching the protocol version.
func dial(ctx context.Context, o dialOptions) (session, error) {
	if o.version == 5 {
		return dial5(ctx, o)
	}
	return dial3(ctx, o)
}
