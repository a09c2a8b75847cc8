package tb

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
)

// Device provisioning (ThingsBoard's MQTT provisioning API, as the Python
// SDK does it for the gateway): a separate MQTT session logs in with the
// user name "provision", subscribes to /provision/response, publishes the
// request to /provision/request and waits for the answer.

// Provisioning topics and login.
const (
	TopicProvisionRequest  = "/provision/request"
	TopicProvisionResponse = "/provision/response"
	ProvisionUser          = "provision"
)

// ProvisionTimeout bounds the exchange when ctx has no earlier deadline
// (the Python SDK waits 60 s).
const ProvisionTimeout = 60 * time.Second

// ProvisionResponse is ThingsBoard's answer.
type ProvisionResponse struct {
	Status           string          `json:"status"`
	DeviceStatus     string          `json:"provisionDeviceStatus"` // older servers, X.509
	CredentialsType  string          `json:"credentialsType"`
	CredentialsValue json.RawMessage `json:"credentialsValue"`
	ErrorMsg         string          `json:"errorMsg"`
}

// OK reports a successful provisioning.
func (r ProvisionResponse) OK() bool { return r.Status == "SUCCESS" || r.DeviceStatus == "SUCCESS" }

// Provision sends request (the JSON of /provision/request) to the server in
// cfg (Host, Port, proxy, and TLS from Security.TLS/CACert/Insecure or port
// 8883; no credentials) and returns the raw response.
func Provision(ctx context.Context, cfg Config, request []byte, log *slog.Logger) ([]byte, error) {
	cfg = cfg.withDefaults()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c := &Client{cfg: cfg, log: log}
	s := cfg.Security
	if s.TLS || s.CACert != "" || cfg.Port == 8883 {
		o := cfg
		o.Security = Security{CACert: s.CACert, Insecure: s.Insecure}
		tc, err := o.tlsConfig()
		if err != nil {
			return nil, fmt.Errorf("provisioning: %w", err)
		}
		c.tls = tc
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, ProvisionTimeout)
		defer cancel()
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
	o.SetUsername(ProvisionUser)
	o.SetClientID("tbgw-provision-" + hex.EncodeToString(id[:]))
	o.SetConnectTimeout(cfg.ConnectTimeout)
	o.SetWriteTimeout(writeTimeout)
	o.SetCustomOpenConnectionFn(func(*url.URL, mqtt.ClientOptions) (net.Conn, error) { return c.dial(ctx) })
	resp := make(chan []byte, 1)
	mc := mqtt.NewClient(o)
	if err := waitToken(ctx, mc.Connect(), nil, cfg.ConnectTimeout); err != nil {
		return nil, fmt.Errorf("provisioning: connect to %s: %w", c.addr(), err)
	}
	defer mc.Disconnect(100)
	st := mc.Subscribe(TopicProvisionResponse, 1, func(_ mqtt.Client, m mqtt.Message) {
		select {
		case resp <- append([]byte(nil), m.Payload()...):
		default:
		}
	})
	if err := waitToken(ctx, st, nil, cfg.ConnectTimeout); err != nil {
		return nil, fmt.Errorf("provisioning: subscribe: %w", err)
	}
	if err := waitToken(ctx, mc.Publish(TopicProvisionRequest, 1, false, request), nil, cfg.ConnectTimeout); err != nil {
		return nil, fmt.Errorf("provisioning: request: %w", err)
	}
	select {
	case b := <-resp:
		return b, nil
	case <-ctx.Done():
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return nil, fmt.Errorf("provisioning: no answer on %s from %s", TopicProvisionResponse, c.addr())
		}
		return nil, ctx.Err()
	}
}
