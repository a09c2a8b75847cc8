package tb

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net"
	"net/url"

	mqtt "github.com/eclipse/paho.mqtt.golang"
)

// Probe opens one MQTT session with cfg's credentials under a client ID of
// its own (so the gateway's live session is not taken over), and closes it
// at once: nil when the server accepted the login. The gateway uses it to
// try a renewed client certificate before giving up the working one.
func Probe(ctx context.Context, cfg Config, log *slog.Logger) error {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return err
	}
	kind, err := cfg.Security.authKind()
	if err != nil {
		return err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c := &Client{cfg: cfg, kind: kind, log: log}
	if cfg.useTLS(kind) {
		tc, err := cfg.tlsConfig()
		if err != nil {
			return err
		}
		c.tls = tc
	}
	var id [6]byte
	rand.Read(id[:])
	o := mqtt.NewClientOptions()
	o.AddBroker("tcp://" + c.addr()) // the scheme is ignored: dialing is ours
	o.SetProtocolVersion(4)
	o.SetCleanSession(true)
	o.SetAutoReconnect(false)
	o.SetConnectRetry(false)
	o.SetStore(nullStore{})
	o.SetClientID("tbgw-probe-" + hex.EncodeToString(id[:]))
	switch kind {
	case authToken:
		o.SetUsername(cfg.Security.AccessToken)
	case authBasic:
		o.SetUsername(cfg.Security.Username)
		o.SetPassword(cfg.Security.Password)
	}
	o.SetConnectTimeout(cfg.ConnectTimeout)
	o.SetWriteTimeout(writeTimeout)
	o.SetCustomOpenConnectionFn(func(*url.URL, mqtt.ClientOptions) (net.Conn, error) { return c.dial(ctx) })
	mc := mqtt.NewClient(o)
	if err := waitToken(ctx, mc.Connect(), nil, cfg.ConnectTimeout); err != nil {
		return fmt.Errorf("probe %s: %w", c.addr(), err)
	}
	mc.Disconnect(50)
	return nil
}
