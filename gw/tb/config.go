package tb

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Security types as written in the "thingsboard.security.type" key.
// Any other type string is accepted when the keys present identify the
// variant (see [Security]).
const (
	SecAccessToken      = "accessToken"
	SecTLSAccessToken   = "tlsAccessToken"
	SecUsernamePassword = "usernamePassword"
)

// Security is the "thingsboard.security" section.
//
// The variant is chosen as follows: type "usernamePassword" uses
// Username/Password/ClientID; type "accessToken" or "tlsAccessToken", or no
// type with an AccessToken, logs in with the token as MQTT user name; any
// other type (upstream writes "x509Certificate", "certificates", "tls", ...)
// or no type with Cert and PrivateKey authenticates with the X.509 client
// certificate alone. Cert and PrivateKey are presented as client certificate
// in every TLS variant when both are set.
type Security struct {
	Type        string
	AccessToken string
	Username    string
	Password    string
	ClientID    string
	// CACert, Cert and PrivateKey are file names (relative ones are resolved
	// against Config.ConfigDir). CACert may also hold PEM text itself, as
	// remote configuration delivers it.
	CACert     string
	Cert       string
	PrivateKey string
	// Insecure skips verification of the server certificate entirely.
	Insecure bool
	// TLS forces TLS even without CACert on a port other than 8883.
	TLS bool
}

// Config is the connection configuration, filled by gw/config from the
// "thingsboard" section of tb_gateway.json (after the TB_GW_* environment
// overrides). Zero values select the documented defaults.
type Config struct {
	Host         string
	Port         int // default 1883
	KeepAliveSec int // default 120
	// QoS is used for the gateway's own requests (attribute requests,
	// getSessionLimits) and the v1/devices/me/* subscriptions. gw/config
	// applies the upstream default 1; 0 here means QoS 0.
	QoS      int
	Security Security
	// ConfigDir resolves relative certificate file names.
	ConfigDir string

	// Rate limits in the upstream format ("10:1,60:60", "0:0", "" or one of
	// the DEFAULT_* tokens); "" means the key's DEFAULT_* token. See
	// docs/thingsboard.md for which topics each one throttles.
	RateLimits               string // own telemetry messages
	DPRateLimits             string // own telemetry datapoints
	MessagesRateLimits       string // own messages (all kinds)
	DeviceMessagesRateLimits string // messages on v1/gateway/* (all kinds)
	DeviceRateLimits         string // v1/gateway/telemetry and v1/gateway/attributes messages
	DeviceDPRateLimits       string // datapoints of those
	// RateLimitPercent scales every limit (configured and server-sent);
	// 0 means 80 (TB_DEFAULT_RATE_LIMIT_PERCENTAGE upstream).
	RateLimitPercent float64

	// MaxPayloadSize is the payload budget reported by Limits until the
	// server's getSessionLimits answer replaces it; 0 means 8196.
	MaxPayloadSize int
	// MaxInflight caps the QoS 1 publishes awaiting PUBACK; 0 means 1000.
	// Server limits can only lower it.
	MaxInflight int

	ProxyHost string // HTTP CONNECT proxy
	ProxyPort int

	// Tuning knobs; zero values mean the defaults in parentheses.
	ConnectTimeout       time.Duration // TCP+TLS+CONNACK (30 s)
	SessionLimitsTimeout time.Duration // getSessionLimits answer (5 s)
	ReconnectMin         time.Duration // first reconnect delay (1 s)
	ReconnectMax         time.Duration // reconnect delay cap (120 s)
	InboundQueue         int           // inbound messages queued for Handler.OnMessage (256)
}

// Defaults.
const (
	DefaultPort           = 1883
	DefaultKeepAlive      = 120
	DefaultMaxPayloadSize = 8196
	DefaultMaxInflight    = 1000
	DefaultRatePercent    = 80
)

// withDefaults returns cfg with zero values replaced by defaults.
func (cfg Config) withDefaults() Config {
	if cfg.Port == 0 {
		cfg.Port = DefaultPort
	}
	if cfg.KeepAliveSec == 0 {
		cfg.KeepAliveSec = DefaultKeepAlive
	}
	if cfg.RateLimitPercent == 0 {
		cfg.RateLimitPercent = DefaultRatePercent
	}
	if cfg.MaxPayloadSize == 0 {
		cfg.MaxPayloadSize = DefaultMaxPayloadSize
	}
	if cfg.MaxInflight == 0 {
		cfg.MaxInflight = DefaultMaxInflight
	}
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = 30 * time.Second
	}
	if cfg.SessionLimitsTimeout == 0 {
		cfg.SessionLimitsTimeout = 5 * time.Second
	}
	if cfg.ReconnectMin == 0 {
		cfg.ReconnectMin = time.Second
	}
	if cfg.ReconnectMax == 0 {
		cfg.ReconnectMax = 120 * time.Second
	}
	if cfg.ReconnectMax < cfg.ReconnectMin {
		cfg.ReconnectMax = cfg.ReconnectMin
	}
	if cfg.InboundQueue == 0 {
		cfg.InboundQueue = 256
	}
	return cfg
}

// authKind is the resolved security variant.
type authKind int

const (
	authToken authKind = iota + 1
	authBasic
	authX509
)

func (k authKind) String() string {
	switch k {
	case authToken:
		return "access token"
	case authBasic:
		return "username/password"
	case authX509:
		return "X.509 certificate"
	}
	return "unknown"
}

// authKind resolves the security variant (see Security).
func (s Security) authKind() (authKind, error) {
	switch s.Type {
	case SecAccessToken, SecTLSAccessToken:
		if s.AccessToken == "" {
			return 0, fmt.Errorf("security type %q needs accessToken", s.Type)
		}
		return authToken, nil
	case SecUsernamePassword:
		if s.Username == "" && s.ClientID == "" {
			return 0, errors.New(`security type "usernamePassword" needs username or clientId`)
		}
		return authBasic, nil
	case "":
		switch {
		case s.AccessToken != "":
			return authToken, nil
		case s.Cert != "" && s.PrivateKey != "":
			return authX509, nil
		case s.Username != "":
			return authBasic, nil
		}
		return 0, errors.New("security: no accessToken, username or cert/privateKey given")
	}
	if s.Cert == "" || s.PrivateKey == "" {
		return 0, fmt.Errorf("security type %q needs cert and privateKey", s.Type)
	}
	return authX509, nil
}

// useTLS reports whether the connection is encrypted: security.tls,
// a CA certificate, an X.509 client certificate, type tlsAccessToken or
// port 8883. There is never a fallback to plain TCP.
func (cfg *Config) useTLS(kind authKind) bool {
	s := cfg.Security
	return s.TLS || s.CACert != "" || cfg.Port == 8883 ||
		s.Type == SecTLSAccessToken || kind == authX509
}

func (cfg *Config) validate() error {
	var errs []error
	if strings.TrimSpace(cfg.Host) == "" {
		errs = append(errs, errors.New("host is empty"))
	}
	if cfg.Port < 1 || cfg.Port > 65535 {
		errs = append(errs, fmt.Errorf("port %d out of range", cfg.Port))
	}
	if cfg.KeepAliveSec < 0 || cfg.KeepAliveSec > 65535 {
		errs = append(errs, fmt.Errorf("keep_alive %d out of range", cfg.KeepAliveSec))
	}
	if cfg.QoS < 0 || cfg.QoS > 1 {
		errs = append(errs, fmt.Errorf("qos %d: only 0 and 1 are supported", cfg.QoS))
	}
	if cfg.RateLimitPercent < 0 || cfg.RateLimitPercent > 100 {
		errs = append(errs, fmt.Errorf("rate limit percentage %v out of range 0..100", cfg.RateLimitPercent))
	}
	if cfg.MaxPayloadSize < 0 {
		errs = append(errs, fmt.Errorf("maxPayloadSizeBytes %d is negative", cfg.MaxPayloadSize))
	}
	if cfg.MaxInflight < 0 || cfg.MaxInflight > 65000 {
		errs = append(errs, fmt.Errorf("max in-flight %d out of range", cfg.MaxInflight))
	}
	if cfg.ProxyHost != "" && (cfg.ProxyPort < 1 || cfg.ProxyPort > 65535) {
		errs = append(errs, fmt.Errorf("proxy_port %d out of range", cfg.ProxyPort))
	}
	if _, err := cfg.Security.authKind(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
