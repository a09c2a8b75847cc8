package gw

import (
	"context"
	"log/slog"
	"os"
	"strconv"
	"time"

	"github.com/tbgw/tbgw/gw/config"
	"github.com/tbgw/tbgw/gw/tb"
)

// tbLink adapts *tb.Client to Link.
type tbLink struct{ *tb.Client }

func (l tbLink) Publish(ctx context.Context, topic string, payload []byte, qos byte, dp int) (Token, error) {
	t, err := l.Client.Publish(ctx, topic, payload, qos, dp)
	if err != nil {
		return nil, err
	}
	return t, nil
}

func (l tbLink) MaxPayload() int { return l.Client.Limits().MaxPayload }

// TBConfig maps the "thingsboard" section onto the client configuration.
func TBConfig(c *config.Config) tb.Config {
	t := c.ThingsBoard
	tc := tb.Config{
		Host:                     t.Host,
		Port:                     t.Port,
		KeepAliveSec:             t.KeepAlive,
		QoS:                      *t.QoS,
		ConfigDir:                c.Dir,
		RateLimits:               t.RateLimits,
		DPRateLimits:             t.DPRateLimits,
		MessagesRateLimits:       t.MessagesRateLimits,
		DeviceMessagesRateLimits: t.DeviceMessagesRateLimits,
		DeviceRateLimits:         t.DeviceRateLimits,
		DeviceDPRateLimits:       t.DeviceDPRateLimits,
		MaxPayloadSize:           t.MaxPayloadSizeBytes,
		ProxyHost:                t.ProxyHost,
		ProxyPort:                t.ProxyPort,
		// Come back within half a minute of ThingsBoard, not two, so a
		// backlog starts draining soon after an outage.
		ReconnectMax: 30 * time.Second,
	}
	if p, err := strconv.ParseFloat(os.Getenv("TB_DEFAULT_RATE_LIMIT_PERCENTAGE"), 64); err == nil && p > 0 {
		tc.RateLimitPercent = p
	}
	if s := t.Security; s != nil {
		tc.Security = tb.Security{
			Type: s.Type, AccessToken: s.AccessToken, Username: s.Username, Password: s.Password,
			ClientID: s.ClientID, CACert: s.CACert, Cert: s.Cert, PrivateKey: s.PrivateKey,
			Insecure: s.Insecure, TLS: s.TLS,
		}
	}
	return tc
}

// NewTBLink builds the ThingsBoard MQTT link for a configuration.
func NewTBLink(log *slog.Logger) func(cfg *config.Config, h LinkHandler) (LinkRunner, error) {
	return func(cfg *config.Config, h LinkHandler) (LinkRunner, error) {
		c, err := tb.New(TBConfig(cfg), log.With("component", "tb_connection"), tb.Handler{
			OnConnect: h.OnConnect, OnDisconnect: h.OnDisconnect, OnMessage: h.OnMessage,
		})
		if err != nil {
			return nil, err
		}
		return tbLink{c}, nil
	}
}
